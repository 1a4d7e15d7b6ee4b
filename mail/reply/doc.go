// Package reply finds the new text of a reply: Extract cuts the quoted
// thread, the attribution above it, the signature and the sign-off of a
// text/plain body, ExtractHTML does the same for an HTML one, and both keep
// what they cut. Pure functions of a string: no I/O, bounded time.
package reply
