package server

// addAuthorizationMetadata adds the authorization endpoint's metadata.
func (s *Server) addAuthorizationMetadata(doc map[string]any) {}
