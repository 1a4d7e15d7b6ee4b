// Package tag makes and checks the gateway's signed addresses: a tagged
// address per collaboration and participant (collab+<cid>.<pid>.<mac>@domain),
// the reply token in the Message-IDs it writes, and the token of an
// unsubscribe link. A Tagger is also the recipient policy the inbound
// servers are given.
package tag
