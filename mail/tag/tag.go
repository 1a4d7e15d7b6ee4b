package tag

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/turnmail/turnmail/mail"
)

// macLen is the length of the tag's MAC in base32 characters: 13 of them carry
// 65 bits, above the 60 that DESIGN §3 asks for.
const macLen = 13

// maxGatewayLocal bounds the gateway's local part so that a tagged address
// keeps within the 64 octets RFC 5321 §4.5.3.1.1 allows a local part, with
// room for a cid and pid of 16 characters together:
// local "+" cid "." pid "." mac.
const maxGatewayLocal = 64 - (1 + 1 + 1 + macLen) - 16

// replyPrefix starts the local part of a reply reference (a Message-ID).
const replyPrefix = "reply."

// minSecret is the shortest HMAC secret NewTagger accepts.
const minSecret = 16

// macEncoding is lower-case so that MTAs which fold the local part's case do
// not break the tag.
var macEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Tagger makes and checks tagged addresses collab+<cid>.<pid>.<mac>@domain for
// a gateway address collab@domain, and bounce addresses (BounceAddress). The mac is the first 13 characters of the
// lower-case unpadded base32 of HMAC-SHA256(secret, cid+"."+pid) (65 bits),
// compared in constant time, so a tag can be neither forged nor moved to
// another collaboration or participant. The local part is compared
// case-insensitively (MTAs fold case) and stays within 64 octets.
//
// Only "+" separates the gateway's local part from the tag: MTAs configured
// with another subaddress separator ("-", as qmail does) must be set to "+"
// for the gateway's domain.
type Tagger struct {
	local  string // the gateway's local part, lower-case
	domain string // lower-case
	secret []byte
}

// NewTagger returns a Tagger for the gateway address (e.g. "collab@localhost")
// under the secret, which must be at least 16 bytes long.
func NewTagger(gateway string, secret []byte) (*Tagger, error) {
	if len(secret) < minSecret {
		return nil, fmt.Errorf("mail: tag secret is %d bytes, need at least %d", len(secret), minSecret)
	}
	local, domain, ok := splitAddr(gateway)
	if !ok || local == "" || domain == "" {
		return nil, fmt.Errorf("mail: bad gateway address %q", gateway)
	}
	if strings.ContainsAny(local, "+\"\\ ") {
		return nil, fmt.Errorf("mail: gateway address %q: local part must not hold '+', quotes or spaces", gateway)
	}
	if len(local) > maxGatewayLocal {
		return nil, fmt.Errorf("mail: gateway address %q: local part longer than %d octets leaves no room for tags", gateway, maxGatewayLocal)
	}
	return &Tagger{
		local:  strings.ToLower(local),
		domain: strings.ToLower(domain),
		secret: append([]byte(nil), secret...),
	}, nil
}

// Gateway returns the plain gateway address, lower-case.
func (t *Tagger) Gateway() string { return t.local + "@" + t.domain }

// Domain returns the gateway's domain, lower-case.
func (t *Tagger) Domain() string { return t.domain }

// Address returns the tagged address of participant pid in collaboration cid.
// Both must match [a-z0-9]+; Classify rejects addresses made of anything else.
func (t *Tagger) Address(cid, pid string) string {
	return t.local + "+" + t.Token(cid, pid) + "@" + t.domain
}

// Token returns "<cid>.<pid>.<mac>", the part of a tagged address after "+".
func (t *Tagger) Token(cid, pid string) string {
	return cid + "." + pid + "." + t.mac(cid, pid)
}

// ReplyRef returns "reply.<token>@<domain>", a Message-ID (without angle
// brackets) put in References so that a client dropping Reply-To still leads
// back to the collaboration and the participant.
func (t *Tagger) ReplyRef(cid, pid string) string {
	return replyPrefix + t.Token(cid, pid) + "@" + t.domain
}

// AddrKind says what an address is to the gateway.
type AddrKind int

// Address kinds returned by Classify.
const (
	AddrForeign AddrKind = iota // another domain
	AddrGateway                 // the plain gateway address
	AddrTagged                  // a valid tagged address
	AddrUnknown                 // the gateway's domain, but not the gateway, or a bad or forged tag
	// AddrPostmaster is postmaster at the gateway's domain, in any case, or
	// the bare "postmaster" without a domain: RFC 5321 §4.5.1 requires both
	// to be accepted. Such mail is for the operator, not a collaboration.
	AddrPostmaster
	// AddrBounce is a valid bounce address (BounceAddress): what comes to
	// it reports on one outbound message.
	AddrBounce
)

// String returns the kind's name, for logs.
func (k AddrKind) String() string {
	switch k {
	case AddrForeign:
		return "foreign"
	case AddrGateway:
		return "gateway"
	case AddrTagged:
		return "tagged"
	case AddrUnknown:
		return "unknown"
	case AddrPostmaster:
		return "postmaster"
	case AddrBounce:
		return "bounce"
	}
	return fmt.Sprintf("AddrKind(%d)", int(k))
}

// AcceptRecipient is the gateway's recipient policy: it takes the gateway
// address, valid tagged and bounce addresses and postmaster, refuses other
// domains as relaying (550 5.7.1) and answers everything else, forged tags
// included, as an unknown mailbox (550 5.1.1).
func (t *Tagger) AcceptRecipient(addr string) *mail.Rejection {
	switch kind, _, _ := t.Classify(addr); kind {
	case AddrGateway, AddrTagged, AddrPostmaster, AddrBounce:
		return nil
	case AddrForeign:
		return &mail.Rejection{Code: 550, Enhanced: [3]int{5, 7, 1},
			Reason: "relaying denied: this gateway only accepts mail for " + t.domain, Detail: "relaying denied"}
	}
	detail := "unknown local part"
	if strings.HasPrefix(strings.ToLower(addr), t.local+"+") {
		detail = "bad tag"
	}
	return &mail.Rejection{Code: 550, Enhanced: [3]int{5, 1, 1}, Reason: "no such recipient here", Detail: detail}
}

// Classify tells what addr is to the gateway. It accepts "<a@b>",
// "Name <a@b>" and "a@b". cid and pid are set only for AddrTagged. An address
// without a domain is AddrUnknown, as it cannot be relayed anywhere either,
// except "postmaster", which is AddrPostmaster (RFC 5321 §4.1.1.3).
func (t *Tagger) Classify(addr string) (kind AddrKind, cid, pid string) {
	local, domain, ok := splitAddr(addr)
	if !ok {
		if isBarePostmaster(addr) {
			return AddrPostmaster, "", ""
		}
		return AddrUnknown, "", ""
	}
	if !strings.EqualFold(domain, t.domain) {
		return AddrForeign, "", ""
	}
	local = strings.ToLower(local)
	if local == t.local {
		return AddrGateway, "", ""
	}
	if local == postmaster {
		return AddrPostmaster, "", ""
	}
	token, ok := strings.CutPrefix(local, t.local+"+")
	if !ok {
		return AddrUnknown, "", ""
	}
	if _, ok := t.checkBounce(token); ok {
		return AddrBounce, "", ""
	}
	cid, pid, ok = t.checkToken(token)
	if !ok {
		return AddrUnknown, "", ""
	}
	return AddrTagged, cid, pid
}

// ParseReplyRef is the inverse of ReplyRef: it returns the collaboration and
// participant a reply reference names, if its MAC holds. Angle brackets
// around msgid are allowed.
func (t *Tagger) ParseReplyRef(msgid string) (cid, pid string, ok bool) {
	local, domain, ok := splitAddr(msgid)
	if !ok || !strings.EqualFold(domain, t.domain) {
		return "", "", false
	}
	token, ok := strings.CutPrefix(strings.ToLower(local), replyPrefix)
	if !ok {
		return "", "", false
	}
	return t.checkToken(token)
}

// checkToken parses a lower-case "<cid>.<pid>.<mac>" and checks its MAC.
func (t *Tagger) checkToken(token string) (cid, pid string, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || !isID(parts[0]) || !isID(parts[1]) || len(parts[2]) != macLen {
		return "", "", false
	}
	cid, pid = parts[0], parts[1]
	if !hmac.Equal([]byte(parts[2]), []byte(t.mac(cid, pid))) {
		return "", "", false
	}
	return cid, pid, true
}

func (t *Tagger) mac(cid, pid string) string {
	h := hmac.New(sha256.New, t.secret)
	h.Write([]byte(cid + "." + pid))
	return macEncoding.EncodeToString(h.Sum(nil))[:macLen]
}

// postmaster is the local part every domain that takes mail must accept,
// case-insensitively (RFC 5321 §4.5.1).
const postmaster = "postmaster"

// isBarePostmaster reports whether s is "postmaster" or "<postmaster>", in
// any case, which RFC 5321 §4.1.1.3 lets a client write without a domain.
func isBarePostmaster(s string) bool {
	s = strings.TrimSpace(s)
	if inner, ok := strings.CutPrefix(s, "<"); ok {
		s, ok = strings.CutSuffix(inner, ">")
		if !ok {
			return false
		}
	}
	return strings.EqualFold(s, postmaster)
}

// isID reports whether s is a collaboration or participant id: [a-z0-9]+.
func isID(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// splitAddr takes the addr-spec out of "<a@b>", "Name <a@b>" or "a@b" and
// splits it at its last "@". The address is taken from between the last "<"
// and the ">" after it, so a display name holding "<" does not confuse it.
func splitAddr(s string) (local, domain string, ok bool) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			return "", "", false
		}
		s = strings.TrimSpace(s[i+1 : i+j])
	}
	if strings.ContainsAny(s, " \t\r\n<>") {
		return "", "", false
	}
	i := strings.LastIndexByte(s, '@')
	if i <= 0 || i == len(s)-1 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// AddressToken returns a URL-safe token naming address, signed under the
// gateway secret: the last path element of a one-click unsubscribe URL
// (RFC 8058), which must work without a login.
func (t *Tagger) AddressToken(address string) string {
	address = strings.ToLower(address)
	return base64.RawURLEncoding.EncodeToString([]byte(address)) + "." + t.addressMAC(address)
}

// ParseAddressToken returns the address an AddressToken names, checking
// its signature.
func (t *Tagger) ParseAddressToken(token string) (address string, ok bool) {
	enc, mac, found := strings.Cut(token, ".")
	if !found {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", false
	}
	address = string(b)
	if !hmac.Equal([]byte(mac), []byte(t.addressMAC(address))) {
		return "", false
	}
	return address, true
}

// DownloadToken signs a link to one stored file of collaboration cid, the
// blob with digest, valid until expires: "<cid>.<digest>.<expiry>.<mac>".
func (t *Tagger) DownloadToken(cid, digest string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 36)
	return cid + "." + digest + "." + exp + "." + t.downloadMAC(cid, digest, exp)
}

// ParseDownloadToken returns the collaboration and blob a DownloadToken
// names, checking its signature and that it has not expired at now.
func (t *Tagger) ParseDownloadToken(token string, now time.Time) (cid, digest string, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 4 {
		return "", "", false
	}
	cid, digest, exp, mac := parts[0], parts[1], parts[2], parts[3]
	if !hmac.Equal([]byte(mac), []byte(t.downloadMAC(cid, digest, exp))) {
		return "", "", false
	}
	secs, err := strconv.ParseInt(exp, 36, 64)
	if err != nil || !now.Before(time.Unix(secs, 0)) {
		return "", "", false
	}
	return cid, digest, true
}

// downloadMAC signs a download link; the NULs keep it apart from the
// other MACs' inputs.
func (t *Tagger) downloadMAC(cid, digest, exp string) string {
	h := hmac.New(sha256.New, t.secret)
	h.Write([]byte("download\x00" + cid + "\x00" + digest + "\x00" + exp))
	return macEncoding.EncodeToString(h.Sum(nil))[:26]
}

// addressMAC signs an address. The NUL keeps its input apart from the
// "<cid>.<pid>" of tagged addresses, which never holds one.
func (t *Tagger) addressMAC(address string) string {
	h := hmac.New(sha256.New, t.secret)
	h.Write([]byte("unsubscribe\x00" + address))
	return macEncoding.EncodeToString(h.Sum(nil))[:26]
}

// bouncePrefix starts the token of a bounce address, "b.<id>.<mac>": a
// collaboration id is never the one letter "b" (store.NewCollabID makes
// six), so Classify tells the two apart by it.
const bouncePrefix = "b."

// BounceAddress returns the envelope sender (VERP) of outbound message id,
// collab+b.<id>.<mac>@domain: id in lower-case base 32 (strconv, digits and
// a-v), mac as in tagged addresses but over a distinct input, so neither
// kind of address can be made from the other. A delivery status
// notification that comes back to it names the message it is about.
func (t *Tagger) BounceAddress(id uint64) string {
	n := strconv.FormatUint(id, 32)
	return t.local + "+" + bouncePrefix + n + "." + t.bounceMAC(n) + "@" + t.domain
}

// ParseBounce is the inverse of BounceAddress: the outbound message a
// bounce address names, if its MAC holds. It accepts the forms Classify
// does, in any case.
func (t *Tagger) ParseBounce(addr string) (id uint64, ok bool) {
	local, domain, ok := splitAddr(addr)
	if !ok || !strings.EqualFold(domain, t.domain) {
		return 0, false
	}
	token, ok := strings.CutPrefix(strings.ToLower(local), t.local+"+")
	if !ok {
		return 0, false
	}
	return t.checkBounce(token)
}

// checkBounce parses a lower-case "b.<id>.<mac>" and checks its MAC. Only
// the canonical form of id counts: one message, one address.
func (t *Tagger) checkBounce(token string) (uint64, bool) {
	rest, ok := strings.CutPrefix(token, bouncePrefix)
	if !ok {
		return 0, false
	}
	n, mac, ok := strings.Cut(rest, ".")
	if !ok || len(mac) != macLen {
		return 0, false
	}
	id, err := strconv.ParseUint(n, 32, 64)
	if err != nil || strconv.FormatUint(id, 32) != n {
		return 0, false
	}
	if !hmac.Equal([]byte(mac), []byte(t.bounceMAC(n))) {
		return 0, false
	}
	return id, true
}

// bounceMAC signs an outbound id. The NUL keeps its input apart from the
// "<cid>.<pid>" of tagged addresses and from unsubscribe tokens.
func (t *Tagger) bounceMAC(id string) string {
	h := hmac.New(sha256.New, t.secret)
	h.Write([]byte("bounce\x00" + id))
	return macEncoding.EncodeToString(h.Sum(nil))[:macLen]
}
