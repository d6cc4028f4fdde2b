package server

import "strings"

// deviceOf summarises a User-Agent for the account page ("Firefox on
// Linux"): enough for a person to recognise their browser, never a
// fingerprint. Order matters: Edge and Chrome name Safari too.
func deviceOf(ua string) string {
	if ua == "" {
		return "Unknown device"
	}
	browser := pick(ua, "Unknown browser", [][2]string{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"HeadlessChrome/", "Headless Chrome"},
		{"Chromium/", "Chromium"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"}, {"Go-http-client/", "Go program"},
	})
	system := pick(ua, "", [][2]string{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	})
	if system == "" {
		return browser
	}
	return browser + " on " + system
}

// pick returns the name of the first marker found in ua, or def.
func pick(ua, def string, markers [][2]string) string {
	for _, m := range markers {
		if strings.Contains(ua, m[0]) {
			return m[1]
		}
	}
	return def
}
