package message

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"mime"
	"path"
	"strings"
	"unicode/utf16"

	"github.com/emersion/go-message"

	"github.com/turnmail/turnmail/mail"
)

// A bounded reader of TNEF, the format of Outlook's winmail.dat
// (application/ms-tnef), per [MS-OXTNEF]. Outlook sends mail in its rich
// text format as a text part plus a winmail.dat that holds the real
// attachments; no maintained Go library is served by the module proxy, so
// this reads the little turnmail needs: for each attachment its data
// (attAttachData, streamed into the BlobWriter, its checksum checked), its
// names (attAttachTitle, and PidTagAttachLongFilename among the MAPI
// properties of attAttachment) and its kind (attach method, hidden flag).
// The message's own rich text, recipients and properties are skipped.
//
// Bounds: an attribute other than attachment data is read into memory only
// up to maxTNEFAttribute bytes, a property list holds at most as many
// properties as its bytes allow, and every count and length is checked
// against the bytes that remain; attachments count toward
// ParseOptions.MaxAttachments.

const (
	tnefSignature    = 0x223E9F78
	maxTNEFAttribute = 1 << 20

	tnefLevelMessage    = 1
	tnefLevelAttachment = 2

	// Attribute IDs, the low word of the attribute ([MS-OXTNEF] §2.1.3.3).
	attAttachData     = 0x800F
	attAttachTitle    = 0x8010
	attAttachRendData = 0x9002
	attAttachment     = 0x9005
	attOemCodepage    = 0x9007

	// MAPI property IDs ([MS-OXPROPS]).
	pidAttachDataObject   = 0x3701
	pidAttachFilename     = 0x3704
	pidAttachMethod       = 0x3705
	pidAttachLongFilename = 0x3707
	pidAttachMimeTag      = 0x370E
	pidAttachContentID    = 0x3712
	pidAttachmentHidden   = 0x7FFE
	pidDisplayName        = 0x3001

	// PidTagAttachMethod values ([MS-OXCMSG] §2.2.2.9).
	attachByValue     = 1
	attachEmbeddedMsg = 5
	attachOLE         = 6
)

// errTNEFCut is a TNEF stream that ends inside an attribute.
var errTNEFCut = errors.New("winmail.dat ends inside an attribute")

// tnefAttachment is one attachment of a TNEF stream as read so far.
type tnefAttachment struct {
	title, longName, shortName, displayName string
	mimeTag, contentID                      string
	method                                  uint32
	hidden                                  bool
	blob                                    *mail.Blob
	damage                                  string
}

// tnef unpacks a winmail.dat part into its attachments.
func (p *parser) tnef(h message.Header, what string, body io.Reader) error {
	dec := p.decoded(h, what, body)
	br := bufio.NewReaderSize(dec, 32<<10)
	t := &tnefState{p: p, br: br, charset: "windows-1252"}
	err := t.read()
	if _, derr := io.Copy(io.Discard, br); derr != nil && err == nil {
		err = derr
	}
	if errors.Is(err, ErrTooManyAttachments) {
		return err
	}
	var be *blobError
	if errors.As(err, &be) {
		return be.err
	}
	// What was read before a fault is kept: the attachments are whole where
	// their checksums hold.
	if err == nil && (dec.Damage() != "" || cutShort(body)) {
		err = errors.New("winmail.dat arrived damaged")
	}
	t.flush()
	switch {
	case err != nil:
		p.msg.TNEF = true
		p.skip("Outlook rich text (TNEF) %s not read to the end: %v", what, err)
	case t.unread:
		p.msg.TNEF = true
		p.skip("Outlook rich text (TNEF) %s holds Outlook items that are not files", what)
	case t.files == 0:
		p.skip("Outlook rich text (TNEF) %s: no attachments inside", what)
	default:
		p.skip("Outlook rich text (TNEF) %s unpacked: %d attachments", what, t.files)
	}
	return nil
}

// blobError carries a BlobWriter's error through the TNEF reader: it fails
// the message, unlike a fault of the stream.
type blobError struct{ err error }

func (e *blobError) Error() string { return e.err.Error() }

type tnefState struct {
	p       *parser
	br      *bufio.Reader
	charset string // of 8-bit strings: attOemCodepage
	cur     *tnefAttachment
	files   int  // attachments taken out
	unread  bool // items that are not files (embedded messages, oversized properties)
}

func (t *tnefState) read() error {
	var head [6]byte
	if _, err := io.ReadFull(t.br, head[:]); err != nil {
		return errors.New("winmail.dat is empty or cut short")
	}
	if binary.LittleEndian.Uint32(head[:4]) != tnefSignature {
		return errors.New("winmail.dat is not a TNEF stream")
	}
	for {
		level, err := t.br.ReadByte()
		if err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		var ah [8]byte
		if _, err := io.ReadFull(t.br, ah[:]); err != nil {
			return tnefReadErr(err)
		}
		id := binary.LittleEndian.Uint32(ah[:4]) & 0xFFFF
		length := int64(binary.LittleEndian.Uint32(ah[4:]))
		switch {
		case level == tnefLevelAttachment && id == attAttachRendData:
			t.flush()
			t.cur = &tnefAttachment{}
			err = t.skipAttr(length)
		case level == tnefLevelAttachment && id == attAttachData:
			err = t.attachData(length)
		case level == tnefLevelMessage && id == attOemCodepage,
			level == tnefLevelAttachment && (id == attAttachTitle || id == attAttachment):
			if length > maxTNEFAttribute {
				if id == attAttachment {
					t.unread = true // an embedded Outlook item, most likely
				}
				err = t.skipAttr(length)
				break
			}
			var data []byte
			if data, err = t.readAttr(length); err == nil {
				t.attribute(id, data)
			}
		case level != tnefLevelMessage && level != tnefLevelAttachment:
			return fmt.Errorf("winmail.dat has an attribute of unknown level %d", level)
		default:
			err = t.skipAttr(length)
		}
		if err != nil {
			return err
		}
	}
}

func tnefReadErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errTNEFCut
	}
	return err
}

// checksum is the attribute checksum of [MS-OXTNEF] §2.1.3.3: the sum of
// the data bytes modulo 65536.
type checksum uint16

func (c *checksum) add(b []byte) {
	s := *c
	for _, x := range b {
		s += checksum(x)
	}
	*c = s
}

// readChecksum reads an attribute's checksum and compares it with sum.
func (t *tnefState) readChecksum(sum checksum) (bool, error) {
	var b [2]byte
	if _, err := io.ReadFull(t.br, b[:]); err != nil {
		return false, tnefReadErr(err)
	}
	return checksum(binary.LittleEndian.Uint16(b[:])) == sum, nil
}

func (t *tnefState) readAttr(length int64) ([]byte, error) {
	data := make([]byte, length)
	if _, err := io.ReadFull(t.br, data); err != nil {
		return nil, tnefReadErr(err)
	}
	var sum checksum
	sum.add(data)
	ok, err := t.readChecksum(sum)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("winmail.dat has an attribute whose checksum does not match")
	}
	return data, nil
}

func (t *tnefState) skipAttr(length int64) error {
	if _, err := io.CopyN(io.Discard, t.br, length+2); err != nil {
		return tnefReadErr(err)
	}
	return nil
}

// summing counts what passes through it into a checksum.
type summing struct {
	r   io.Reader
	sum checksum
	n   int64
}

func (s *summing) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	s.sum.add(b[:n])
	s.n += int64(n)
	return n, err
}

// attachData streams an attachment's data into a blob.
func (t *tnefState) attachData(length int64) error {
	if t.cur == nil {
		t.cur = &tnefAttachment{} // no attAttachRendData before it
	}
	if t.cur.blob != nil {
		return errors.New("winmail.dat has two data attributes for one attachment")
	}
	p := t.p
	if len(p.msg.Attachments)+len(p.msg.Damaged) >= p.maxAttachments {
		return fmt.Errorf("%w: more than %d", ErrTooManyAttachments, p.maxAttachments)
	}
	src := &summing{r: io.LimitReader(t.br, length)}
	blob, err := p.blobs.PutBlob(src)
	if err != nil {
		return &blobError{fmt.Errorf("store attachment from winmail.dat: %w", err)}
	}
	t.cur.blob = &blob
	if src.n < length {
		t.cur.damage = "winmail.dat ends inside it"
		return errTNEFCut
	}
	ok, err := t.readChecksum(src.sum)
	if err != nil {
		t.cur.damage = "winmail.dat ends inside it"
		return err
	}
	if !ok {
		t.cur.damage = "its checksum in winmail.dat does not match"
	}
	return nil
}

// attribute takes in one small attribute.
func (t *tnefState) attribute(id uint32, data []byte) {
	switch id {
	case attOemCodepage:
		if len(data) >= 4 {
			if cs := codepageCharset(binary.LittleEndian.Uint32(data)); cs != "" {
				t.charset = cs
			}
		}
	case attAttachTitle:
		if t.cur == nil {
			t.cur = &tnefAttachment{}
		}
		t.cur.title = t.string8(data)
	case attAttachment:
		if t.cur == nil {
			t.cur = &tnefAttachment{}
		}
		t.properties(data)
	}
}

func (t *tnefState) string8(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return decode8bit(b, t.charset)
}

// properties reads the MAPI property list of attAttachment
// ([MS-OXTNEF] §2.1.3.4): a count, then per property its type and ID, a
// name for named properties, and its values. It stops at the first thing
// it cannot read; what came before stays.
func (t *tnefState) properties(data []byte) {
	d := tnefData{b: data}
	count, ok := d.u32()
	if !ok || uint64(count) > uint64(len(data)/4) {
		return
	}
	for range count {
		typ, ok1 := d.u16()
		pid, ok2 := d.u16()
		if !ok1 || !ok2 {
			return
		}
		if pid >= 0x8000 { // a named property: GUID, kind, ID or name
			if !d.skip(16) {
				return
			}
			kind, ok := d.u32()
			if !ok {
				return
			}
			if kind == 0 {
				if !d.skip(4) {
					return
				}
			} else {
				n, ok := d.u32()
				if !ok || !d.skip(padded(n)) {
					return
				}
			}
		}
		values, ok := d.values(typ)
		if !ok {
			return
		}
		if len(values) == 0 {
			continue
		}
		v := values[0]
		switch pid {
		case pidAttachLongFilename:
			t.cur.longName = t.mapiString(typ, v)
		case pidAttachFilename:
			t.cur.shortName = t.mapiString(typ, v)
		case pidDisplayName:
			t.cur.displayName = t.mapiString(typ, v)
		case pidAttachMimeTag:
			t.cur.mimeTag = strings.ToLower(strings.TrimSpace(t.mapiString(typ, v)))
		case pidAttachContentID:
			t.cur.contentID = strings.Trim(t.mapiString(typ, v), "<> ")
		case pidAttachMethod:
			if len(v) >= 4 {
				t.cur.method = binary.LittleEndian.Uint32(v)
			}
		case pidAttachmentHidden:
			t.cur.hidden = len(v) >= 1 && v[0] != 0
		case pidAttachDataObject:
			if typ&0x0FFF == 0x000D { // PtypObject: an embedded message or OLE object
				t.cur.method = max(t.cur.method, attachEmbeddedMsg)
			}
		}
	}
}

// mapiString decodes a PtypString8 (codepage) or PtypString (UTF-16LE)
// value, without its terminating NUL.
func (t *tnefState) mapiString(typ uint16, v []byte) string {
	if typ&0x0FFF == 0x001F {
		u := make([]uint16, len(v)/2)
		for i := range u {
			u[i] = binary.LittleEndian.Uint16(v[2*i:])
		}
		for len(u) > 0 && u[len(u)-1] == 0 {
			u = u[:len(u)-1]
		}
		return string(utf16.Decode(u))
	}
	return t.string8(v)
}

// tnefData reads little-endian values off a property list.
type tnefData struct{ b []byte }

func (d *tnefData) skip(n uint64) bool {
	if n > uint64(len(d.b)) {
		return false
	}
	d.b = d.b[n:]
	return true
}

func (d *tnefData) u16() (uint16, bool) {
	if len(d.b) < 2 {
		return 0, false
	}
	v := binary.LittleEndian.Uint16(d.b)
	d.b = d.b[2:]
	return v, true
}

func (d *tnefData) u32() (uint32, bool) {
	if len(d.b) < 4 {
		return 0, false
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v, true
}

// padded is n rounded up to a multiple of 4: values are padded so.
func padded(n uint32) uint64 { return (uint64(n) + 3) &^ 3 }

// values reads the values of one property of type typ: one for a
// single-valued fixed-size type, else a count first ([MS-OXTNEF]
// §2.1.3.4.1); variable-size values carry their length.
func (d *tnefData) values(typ uint16) ([][]byte, bool) {
	multi := typ&0x1000 != 0
	base := typ & 0x0FFF
	var size int
	switch base {
	case 0x0001: // PtypNull: no value, and never multi-valued
		return nil, !multi
	case 0x0002, 0x000B: // PtypInteger16, PtypBoolean
		size = 2
	case 0x0003, 0x0004, 0x000A: // PtypInteger32, PtypFloating32, PtypErrorCode
		size = 4
	case 0x0005, 0x0006, 0x0007, 0x0014, 0x0040: // floating 64, currency, apptime, integer 64, time
		size = 8
	case 0x0048: // PtypGuid
		size = 16
	case 0x000D, 0x001E, 0x001F, 0x0102: // object, string8, string, binary
		size = -1
		multi = true
	default:
		return nil, false
	}
	n := uint32(1)
	if multi {
		var ok bool
		if n, ok = d.u32(); !ok || uint64(n) > uint64(len(d.b)) {
			return nil, false
		}
	}
	var out [][]byte
	for range n {
		l := uint32(size)
		if size < 0 {
			var ok bool
			if l, ok = d.u32(); !ok {
				return nil, false
			}
		}
		if uint64(l) > uint64(len(d.b)) {
			return nil, false
		}
		v := d.b[:l]
		if !d.skip(padded(l)) {
			d.b = d.b[len(d.b):] // the last value may lack its padding
		}
		if len(out) < 1 { // only the first value is used
			out = append(out, v)
		}
	}
	return out, true
}

// flush files the current attachment. Its data is whole when its checksum
// held, even if the stream breaks after it.
func (t *tnefState) flush() {
	a := t.cur
	t.cur = nil
	if a == nil || a.blob == nil {
		return
	}
	p := t.p
	name := firstNonEmpty(a.longName, a.title, a.shortName, a.displayName)
	fname := SanitizeFilename(name)
	if fname == "" {
		fname = generatedFilename(len(p.msg.Attachments)+len(p.msg.Damaged)+1, a.mimeTag)
	}
	switch {
	case a.method == attachEmbeddedMsg:
		t.unread = true
		p.skip("Outlook item %q in winmail.dat not unpacked", fname)
		return
	case a.method == attachOLE || a.hidden:
		p.skip("picture %q of the Outlook rich text left out", fname)
		return
	case a.method != 0 && a.method != attachByValue:
		t.unread = true
		p.skip("attachment %q in winmail.dat is only a link (attach method %d)", fname, a.method)
		return
	}
	ct := a.mimeTag
	if ct == "" || !strings.Contains(ct, "/") {
		ct = mediaTypeOf(fname)
	}
	att := Attachment{Filename: fname, ContentType: ct, ContentID: a.contentID, Blob: *a.blob}
	if a.damage != "" {
		p.skip("attachment %q damaged (%s): %d bytes kept", fname, a.damage, a.blob.Size)
		p.msg.Damaged = append(p.msg.Damaged, att)
		return
	}
	t.files++
	p.msg.Attachments = append(p.msg.Attachments, att)
}

func firstNonEmpty(l ...string) string {
	for _, s := range l {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// mediaTypeOf guesses a media type from a file name's extension, through
// the table of extensions first so the answer does not depend on the host.
func mediaTypeOf(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if ext == "" {
		return "application/octet-stream"
	}
	for t, e := range extensions {
		if e == ext && t != "application/octet-stream" && t != "text/rtf" && t != "text/xml" {
			return t
		}
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return headerToken(t)
	}
	return "application/octet-stream"
}

// codepageCharset names the charset of a Windows code page, "" for one we
// do not know. Code pages 437 and 850 have no WHATWG label; windows-1252
// agrees with them on ASCII and is what Outlook writes names in.
func codepageCharset(cp uint32) string {
	switch {
	case cp >= 1250 && cp <= 1258:
		return fmt.Sprintf("windows-%d", cp)
	case cp >= 28591 && cp <= 28606:
		return fmt.Sprintf("iso-8859-%d", cp-28590)
	}
	switch cp {
	case 437, 850:
		return "windows-1252"
	case 866:
		return "ibm866"
	case 874:
		return "windows-874"
	case 932:
		return "shift_jis"
	case 936:
		return "gbk"
	case 949:
		return "euc-kr"
	case 950:
		return "big5"
	case 20866:
		return "koi8-r"
	case 21866:
		return "koi8-u"
	case 54936:
		return "gb18030"
	case 65001:
		return "utf-8"
	}
	return ""
}
