package postgres

// ChangesChannel is changesChannel, for the tests outside the package.
var ChangesChannel = changesChannel
