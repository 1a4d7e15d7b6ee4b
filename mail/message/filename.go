package message

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"golang.org/x/net/html/charset"
)

// maxFilenameBytes bounds a sanitised attachment name; most file systems
// allow 255 bytes per path element, and version suffixes need room.
const maxFilenameBytes = 200

// partFilename finds an attachment's name in a part header, trying the forms
// mail clients really send, best first (MAIL-NOTES "Attachments"):
// Content-Disposition filename (RFC 2231 with any charset and continuations,
// RFC 2047 encoded words, raw 8-bit UTF-8 or Latin-1), then the same forms of
// the Content-Type name parameter. It reads the raw header fields itself
// because go-message returns "" for RFC 2231 names in charsets other than
// UTF-8 and for unquoted names with spaces (go-message issue #184). The result
// is not sanitised; "" means the part has no name.
//
// Raw 8-bit bytes that are not UTF-8 are read in charset cs, the charset the
// message declares (see parser.nameCharset); Latin-1 when cs is "".
func partFilename(h message.Header, cs string) string {
	if name := paramValueCharset(h.Get("Content-Disposition"), "filename", cs); name != "" {
		return name
	}
	return paramValueCharset(h.Get("Content-Type"), "name", cs)
}

// rawNonUTF8Name reports whether the name partFilename finds in h is raw
// 8-bit bytes that are not UTF-8, whose reading depends on the charset.
func rawNonUTF8Name(h message.Header) bool {
	for _, f := range [][2]string{{"Content-Disposition", "filename"}, {"Content-Type", "name"}} {
		for key, v := range scanParams(h.Get(f[0])) {
			if key.name == f[1] && !utf8.ValidString(v) && (!key.extended || strings.HasPrefix(v, "''")) {
				return true
			}
		}
	}
	return false
}

// headerToken returns the lower-cased value before the first ';' of a
// Content-Type or Content-Disposition field, the part mime.ParseMediaType
// refuses to return when a parameter after it is malformed.
func headerToken(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return strings.ToLower(strings.TrimSpace(v))
}

// rawParam is one parameter as written: the value still quoted-string
// unescaped but otherwise undecoded.
type rawParam struct {
	section  int  // RFC 2231 continuation number, -1 for none
	extended bool // name* or name*N*: charset'language'percent-encoded
	value    string
}

// paramValue returns the decoded value of parameter name (lower-case) in a
// Content-Type or Content-Disposition field value, or "". It accepts what
// mime.ParseMediaType rejects: spaces around '=', unquoted values with spaces
// or 8-bit bytes, unterminated quotes.
func paramValue(field, name string) string {
	return paramValueCharset(field, name, "")
}

// paramValueCharset is paramValue reading raw 8-bit bytes that are not UTF-8
// (and RFC 2231 values without a charset) in charset cs.
func paramValueCharset(field, name, cs string) string {
	var parts []rawParam
	for key, p := range scanParams(field) {
		if key.name == name {
			parts = append(parts, rawParam{section: key.section, extended: key.extended, value: p})
		}
	}
	if len(parts) == 0 {
		return ""
	}
	// RFC 2231 §4: name* wins over name; continuations are joined in order.
	var plain, ext *rawParam
	var sections []rawParam
	for i := range parts {
		switch p := &parts[i]; {
		case p.section >= 0:
			sections = append(sections, *p)
		case p.extended:
			ext = p
		default:
			plain = p
		}
	}
	switch {
	case ext != nil:
		return decode2231([]rawParam{*ext}, cs)
	case len(sections) > 0:
		sort.Slice(sections, func(i, j int) bool { return sections[i].section < sections[j].section })
		return decode2231(sections, cs)
	default:
		return decodeWordsOr8bitIn(plain.value, cs)
	}
}

// paramKey names one parameter occurrence.
type paramKey struct {
	name     string
	section  int
	extended bool
}

// scanParams splits the parameters of a field value. Keys are lower-cased;
// for a repeated key the first occurrence wins.
func scanParams(field string) map[paramKey]string {
	i := strings.IndexByte(field, ';')
	if i < 0 {
		return nil
	}
	s := field[i+1:]
	params := make(map[paramKey]string)
	for len(s) > 0 {
		s = strings.TrimLeft(s, " \t\r\n;")
		if s == "" {
			break
		}
		j := strings.IndexAny(s, "=;")
		if j < 0 {
			break // a trailing attribute without a value
		}
		rawKey := strings.ToLower(strings.TrimSpace(s[:j]))
		if s[j] == ';' {
			s = s[j:]
			continue
		}
		s = strings.TrimLeft(s[j+1:], " \t\r\n")
		var value string
		if strings.HasPrefix(s, `"`) {
			value, s = scanQuoted(s[1:])
		} else {
			k := strings.IndexByte(s, ';')
			if k < 0 {
				k = len(s)
			}
			value, s = strings.TrimSpace(s[:k]), s[k:]
		}
		key := parseParamKey(rawKey)
		if key.name == "" {
			continue
		}
		if _, dup := params[key]; !dup {
			params[key] = value
		}
	}
	return params
}

// scanQuoted reads a quoted-string body up to its closing quote (or the end,
// when a broken client left it open) and returns it unescaped with the rest.
// A backslash escapes only a quote or a backslash: Windows clients write
// paths unescaped ("C:\TEMP\nsmail.png").
func scanQuoted(s string) (value, rest string) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
				i++
			}
			b.WriteByte(s[i])
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}

// parseParamKey splits "filename*1*" into its name, section and extended flag.
func parseParamKey(k string) paramKey {
	key := paramKey{section: -1}
	if strings.HasSuffix(k, "*") {
		key.extended = true
		k = k[:len(k)-1]
	}
	if i := strings.IndexByte(k, '*'); i >= 0 {
		n, err := strconv.Atoi(k[i+1:])
		if err != nil || n < 0 || n > 999 {
			return paramKey{}
		}
		key.section = n
		k = k[:i]
	}
	key.name = k
	return key
}

// decode2231 joins RFC 2231 sections (already in order) and decodes them:
// the first extended section carries charset'language', extended sections are
// percent-encoded, others are taken as written. Without a charset the bytes
// are read as fallback would (decode8bit).
func decode2231(sections []rawParam, fallback string) string {
	var raw bytes.Buffer
	cs := ""
	for i, p := range sections {
		v := p.value
		if !p.extended {
			raw.WriteString(v)
			continue
		}
		if i == 0 {
			parts := strings.SplitN(v, "'", 3)
			if len(parts) == 3 {
				cs, v = parts[0], parts[2]
			}
		}
		raw.WriteString(percentDecode(v))
	}
	if strings.TrimSpace(cs) == "" {
		return decode8bit(raw.Bytes(), fallback)
	}
	name, _ := decodeCharset(cs, raw.Bytes())
	return name
}

// percentDecode decodes %XX escapes, leaving malformed ones as written.
func percentDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// decodeCharset converts b from the named charset to UTF-8. An unknown
// charset is reported, with b made text by toUTF8.
func decodeCharset(cs string, b []byte) (string, error) {
	switch strings.ToLower(strings.TrimSpace(cs)) {
	case "", "utf-8", "utf8", "us-ascii":
		return toUTF8(b), nil
	}
	r, err := charsetReader(cs, bytes.NewReader(b))
	if err != nil {
		return toUTF8(b), err
	}
	d, err := io.ReadAll(r)
	if err != nil {
		return toUTF8(b), fmt.Errorf("charset %s: %w", cs, err)
	}
	return toUTF8(d), nil
}

// decodeText converts body text from its declared charset. Bytes that are
// valid UTF-8 and not plain ASCII are taken as UTF-8 whatever the label
// says: mislabelled UTF-8 is common (webmail, spam tools), and text in
// another 8-bit charset is almost never valid UTF-8 by chance. ASCII-based
// charsets (ISO-2022-JP, UTF-7) are still decoded by their label.
func decodeText(cs string, b []byte) (string, error) {
	if utf8.Valid(b) && hasNonASCII(b) {
		return string(b), nil
	}
	return decodeCharset(cs, b)
}

func hasNonASCII(b []byte) bool {
	return slices.ContainsFunc(b, func(c byte) bool { return c >= utf8.RuneSelf })
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// charsetReader converts from a charset to UTF-8: the WHATWG encodings of
// golang.org/x/text (every charset real mail uses, with the labels browsers
// accept: ks_c_5601-1987, gb2312, iso-8859-1 read as its superset
// windows-1252) plus UTF-7 (RFC 2152), which x/text lacks and Outlook 2000
// sent. Parse decodes text itself rather than through go-message's global
// message.CharsetReader, so go-message/charset need not be linked in, and
// go-message keeps handing other code in the process undecoded bytes.
func charsetReader(cs string, r io.Reader) (io.Reader, error) {
	if strings.EqualFold(strings.TrimSpace(cs), "utf-7") {
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		return strings.NewReader(decodeUTF7(b)), nil
	}
	return charset.NewReaderLabel(cs, r)
}

// decodeUTF7 decodes RFC 2152 UTF-7: ASCII, with "+" starting a run of
// modified base64 (UTF-16BE) that ends at the first non-base64 character, an
// optional "-" being absorbed; "+-" is a plus sign.
func decodeUTF7(b []byte) string {
	var out strings.Builder
	for i := 0; i < len(b); {
		c := b[i]
		i++
		if c != '+' {
			out.WriteRune(rune(c))
			continue
		}
		if i < len(b) && b[i] == '-' {
			out.WriteByte('+')
			i++
			continue
		}
		j := i
		for j < len(b) && isBase64Char(b[j]) {
			j++
		}
		run := b[i:j]
		if len(run)%4 == 1 { // not a whole byte: drop the stray character
			run = run[:len(run)-1]
		}
		units, _ := base64.RawStdEncoding.DecodeString(string(run))
		u16 := make([]uint16, len(units)/2)
		for k := range u16 {
			u16[k] = uint16(units[2*k])<<8 | uint16(units[2*k+1])
		}
		out.WriteString(string(utf16.Decode(u16)))
		i = j
		if i < len(b) && b[i] == '-' {
			i++
		}
	}
	return out.String()
}

func isBase64Char(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/'
}

// wordDecoder decodes RFC 2047 encoded words in every charset we know.
var wordDecoder = mime.WordDecoder{CharsetReader: charsetReader}

// decodeWordsOr8bit decodes a plain parameter or header value: RFC 2047
// encoded words where present (Outlook and webmails put them inside quoted
// filename= although RFC 2047 §5 forbids it), raw 8-bit bytes otherwise.
func decodeWordsOr8bit(v string) string {
	return decodeWordsOr8bitIn(v, "")
}

// decodeWordsOr8bitIn is decodeWordsOr8bit reading raw 8-bit bytes as
// decode8bit does.
func decodeWordsOr8bitIn(v, cs string) string {
	if strings.Contains(v, "=?") {
		if d, err := wordDecoder.DecodeHeader(v); err == nil {
			return toUTF8([]byte(d))
		}
	}
	return decode8bit([]byte(v), cs)
}

// decode8bit reads undeclared 8-bit bytes: as UTF-8 when they are (also with
// a rune cut off at the end), else in cs, the charset the message declares
// for its text (a mail client writes raw names in the charset it writes the
// message in: GB2312, Shift_JIS, KOI8-R, windows-1252), else as Latin-1.
func decode8bit(b []byte, cs string) string {
	if !hasNonASCII(b) || utf8.Valid(b) {
		return string(b)
	}
	if t := trimPartialRune(b); utf8.Valid(t) && hasNonASCII(t) {
		return string(t)
	}
	if cs != "" {
		if s, err := decodeCharset(cs, b); err == nil {
			return s
		}
	}
	return toUTF8(b)
}

// toUTF8 returns b as UTF-8 text: as is when it is valid UTF-8 (after
// dropping a rune cut off at the end, as Yahoo does to long names), else read
// as Latin-1, the most common 8-bit charset of undeclared bytes.
func toUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	// A cut-off rune only counts as such where the rest shows UTF-8: "caf\xe9"
	// is Latin-1.
	if t := trimPartialRune(b); utf8.Valid(t) && hasNonASCII(t) {
		return string(t)
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end of b.
func trimPartialRune(b []byte) []byte {
	for i := 1; i <= utf8.UTFMax && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return b // ASCII: nothing cut
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			return b
		}
	}
	return b
}

// extensions names the file extension for common attachment types, where
// mime.ExtensionsByType would pick an odd one (".jfif" for JPEG) or depends
// on the host's mime.types.
var extensions = map[string]string{
	"application/pdf":    ".pdf",
	"application/msword": ".doc",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   ".docx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         ".xlsx",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
	"application/vnd.ms-excel":                        ".xls",
	"application/vnd.ms-powerpoint":                   ".ppt",
	"application/vnd.oasis.opendocument.text":         ".odt",
	"application/vnd.oasis.opendocument.spreadsheet":  ".ods",
	"application/vnd.oasis.opendocument.presentation": ".odp",
	"application/rtf":                                 ".rtf",
	"text/rtf":                                        ".rtf",
	"application/zip":                                 ".zip",
	"application/octet-stream":                        ".bin",
	"application/json":                                ".json",
	"application/xml":                                 ".xml",
	"text/xml":                                        ".xml",
	"text/plain":                                      ".txt",
	"text/html":                                       ".html",
	"text/csv":                                        ".csv",
	"text/markdown":                                   ".md",
	"text/calendar":                                   ".ics",
	"image/jpeg":                                      ".jpg",
	"image/png":                                       ".png",
	"image/gif":                                       ".gif",
	"image/heic":                                      ".heic",
	"image/tiff":                                      ".tif",
	"image/webp":                                      ".webp",
	"image/svg+xml":                                   ".svg",
	"message/rfc822":                                  ".eml",
}

// generatedFilename names an attachment that came without one, from its
// position and media type: "attachment-2.pdf".
func generatedFilename(n int, mediaType string) string {
	ext, ok := extensions[mediaType]
	if !ok {
		if exts, err := mime.ExtensionsByType(mediaType); err == nil && len(exts) > 0 {
			ext = exts[0]
		}
	}
	return "attachment-" + strconv.Itoa(n) + ext
}

// SanitizeFilename makes an attachment name safe to show and to use as one
// path element on any common file system: it keeps only the last element of
// a / or \ path, drops control and bidi-override characters, replaces the
// characters Windows forbids with '_', collapses whitespace, strips leading
// dots and trailing dots and spaces, prefixes reserved Windows device names
// (CON, NUL, COM1…) with '_', and cuts the name to 200 bytes at a rune
// boundary, keeping its extension. It returns "" when nothing is left.
func SanitizeFilename(name string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	space := false
	for _, r := range name {
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r):
			continue
		case strings.ContainsRune(`<>:"|?*`, r):
			r = '_'
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	name = strings.TrimLeft(b.String(), ". ")
	name = strings.TrimRight(name, ". ")
	if name == "" {
		return ""
	}
	if reservedName(name) {
		name = "_" + name
	}
	if len(name) > maxFilenameBytes {
		name = truncateFilename(name)
	}
	return name
}

// reservedName reports whether name is a Windows device name, which Windows
// refuses as a file name whatever its extension (CON.txt, com1.docx).
func reservedName(name string) bool {
	base := name
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	base = strings.ToUpper(strings.TrimRight(base, " "))
	switch base {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(base) == 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) {
		return base[3] >= '0' && base[3] <= '9'
	}
	return false
}

// truncateFilename cuts an over-long name to maxFilenameBytes, keeping a
// sensible extension and never splitting a rune.
func truncateFilename(name string) string {
	ext := path.Ext(name)
	if len(ext) > 16 || strings.ContainsRune(ext, ' ') {
		ext = ""
	}
	stem := name[:len(name)-len(ext)]
	limit := maxFilenameBytes - len(ext)
	for limit > 0 && !utf8.RuneStart(stem[limit]) {
		limit--
	}
	stem = strings.TrimRight(stem[:limit], ". ")
	return stem + ext
}
