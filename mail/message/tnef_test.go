package message

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf16"
)

// tnefAttr writes one TNEF attribute with its checksum ([MS-OXTNEF] §2.1.3).
func tnefAttr(level byte, id uint32, data []byte) []byte {
	var b bytes.Buffer
	b.WriteByte(level)
	binary.Write(&b, binary.LittleEndian, id)
	binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	var sum checksum
	sum.add(data)
	binary.Write(&b, binary.LittleEndian, uint16(sum))
	return b.Bytes()
}

// tnefProps writes a MAPI property list of one-valued properties: fixed
// values as given, strings and binaries with a count and a length.
func tnefProps(props ...[3]any) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint32(len(props)))
	for _, p := range props {
		typ, id, v := p[0].(int), p[1].(int), p[2].([]byte)
		binary.Write(&b, binary.LittleEndian, uint16(typ))
		binary.Write(&b, binary.LittleEndian, uint16(id))
		switch typ {
		case 0x001E, 0x001F, 0x0102, 0x000D:
			binary.Write(&b, binary.LittleEndian, uint32(1))
			binary.Write(&b, binary.LittleEndian, uint32(len(v)))
			b.Write(v)
			b.Write(make([]byte, (4-len(v)%4)%4))
		default:
			b.Write(v)
		}
	}
	return b.Bytes()
}

func utf16z(s string) []byte {
	var b bytes.Buffer
	for _, u := range utf16.Encode([]rune(s)) {
		binary.Write(&b, binary.LittleEndian, u)
	}
	b.Write([]byte{0, 0})
	return b.Bytes()
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// tnefFile is one attachment: rendering data, title, data, properties.
func tnefFile(title string, data []byte, props ...[3]any) []byte {
	var b []byte
	b = append(b, tnefAttr(2, 0x00069002, make([]byte, 14))...)
	b = append(b, tnefAttr(2, 0x00018010, append([]byte(title), 0))...)
	b = append(b, tnefAttr(2, 0x0006800F, data)...)
	if len(props) > 0 {
		b = append(b, tnefAttr(2, 0x00069005, tnefProps(props...))...)
	}
	return b
}

func tnefStream(attrs ...[]byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, tnefSignature)
	b = append(b, 0x01, 0x00)
	b = append(b, tnefAttr(1, 0x00089006, u32(0x00010000))...)
	for _, a := range attrs {
		b = append(b, a...)
	}
	return b
}

// tnefMail wraps a winmail.dat the way Outlook sends it.
func tnefMail(dat []byte) string {
	return crlf("From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee attached\n--b\n" +
		"Content-Type: application/ms-tnef; name=\"winmail.dat\"\nContent-Transfer-Encoding: base64\n\n" +
		base64.StdEncoding.EncodeToString(dat) + "\n--b--\n")
}

func TestParseTNEF(t *testing.T) {
	long := [3]any{0x001F, pidAttachLongFilename, utf16z("Änderungen im Vertrag.docx")}
	byValue := [3]any{0x0003, pidAttachMethod, u32(attachByValue)}
	good := tnefFile("ANDERU~1.DOC", []byte("PK docx"), byValue, long)
	badSum := tnefFile("NOTES.TXT", []byte("notes"))
	badSum[len(badSum)-1] ^= 0xFF // the data attribute's checksum is last
	huge := tnefAttr(2, 0x00069005, nil)
	binary.LittleEndian.PutUint32(huge[5:], 0xFFFFFFF0) // a length past the end
	for _, tc := range []struct {
		name           string
		dat            []byte
		files, damaged []string
		tnef           bool
		skipped        string
	}{
		{"two files", tnefStream(good, tnefFile("PRICES.XLS", []byte("xls"))), []string{"Änderungen im Vertrag.docx", "PRICES.XLS"}, nil, false, "unpacked: 2"},
		{"code page of names", tnefStream(tnefAttr(1, 0x00069007, append(u32(1251), u32(0)...)), tnefFile("\xc4\xee\xe3\xee\xe2\xee\xf0.pdf", []byte("%PDF"))), []string{"Договор.pdf"}, nil, false, ""},
		{"only rich text", tnefStream(tnefAttr(1, 0x00069003, tnefProps([3]any{0x0003, 0x0E07, u32(0)}))), nil, nil, false, "no attachments inside"},
		{"bad checksum", tnefStream(badSum), nil, []string{"NOTES.TXT"}, false, "checksum"},
		{"cut inside data", cutTail(tnefStream(tnefFile("NOTES.TXT", []byte("notes"))), 3), nil, []string{"NOTES.TXT"}, true, "not read to the end"},
		{"length past the end", tnefStream(good, huge), []string{"Änderungen im Vertrag.docx"}, nil, true, "not read to the end"},
		{"not TNEF", []byte("hello, world"), nil, nil, true, "not a TNEF stream"},
		{"embedded message", tnefStream(tnefFile("MSG", []byte("x"), [3]any{0x0003, pidAttachMethod, u32(attachEmbeddedMsg)})), nil, nil, true, "Outlook item"},
		{"hidden picture", tnefStream(tnefFile("IMG.PNG", []byte("x"), [3]any{0x000B, pidAttachmentHidden, []byte{1, 0, 0, 0}})), nil, nil, false, "picture"},
		{"property count past the end", tnefStream(tnefFile("A.TXT", []byte("a")), tnefAttr(2, 0x00069005, u32(0xFFFFFFFF))), []string{"A.TXT"}, nil, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blobs := &parseBlobs{keep: true}
			m, err := Parse(strings.NewReader(tnefMail(tc.dat)), blobs, nil)
			if err != nil {
				t.Fatal(err)
			}
			gotFiles, gotDamaged := filenames(m.Attachments), filenames(m.Damaged)
			if strings.Join(gotFiles, "|") != strings.Join(tc.files, "|") || len(gotDamaged) != len(tc.damaged) || m.TNEF != tc.tnef {
				t.Errorf("files %q, damaged %q, TNEF %v; want %q, %q, %v (skipped %q)", gotFiles, gotDamaged, m.TNEF, tc.files, tc.damaged, tc.tnef, m.Skipped)
			}
			for i, d := range tc.damaged {
				if i < len(gotDamaged) && !strings.HasPrefix(gotDamaged[i], d) {
					t.Errorf("damaged %q, want %q", gotDamaged[i], d)
				}
			}
			if !strings.Contains(strings.Join(m.Skipped, "\n"), tc.skipped) {
				t.Errorf("Skipped %q does not mention %q", m.Skipped, tc.skipped)
			}
			if tc.name == "two files" {
				a := m.Attachments[0]
				if got := blobs.get(t, a.Blob); got != "PK docx" || a.ContentType != "application/vnd.openxmlformats-officedocument.wordprocessingml.document" {
					t.Errorf("stored %q as %s", got, a.ContentType)
				}
			}
		})
	}
}

func cutTail(b []byte, n int) []byte { return b[:len(b)-n] }
