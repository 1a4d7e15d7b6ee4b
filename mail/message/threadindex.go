package message

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// filetimeEpoch is where Windows FILETIME counts from, in 100 ns ticks.
var filetimeEpoch = time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)

// ThreadIndex returns a Thread-Index header value, Outlook's conversation
// index ([MS-OXOMSG] 2.2.1.3), for one message of the conversation started
// at root and named by topic: a 22-byte header block (the root's FILETIME
// without its low 16 bits, then a GUID derived from topic, so that every
// message of one conversation shares it) and one 5-byte child block for the
// time since root. Outlook and Exchange group a conversation by the header
// block, whatever the subjects say.
func ThreadIndex(root time.Time, topic string, at time.Time) string {
	b := make([]byte, 0, 27)
	ft := filetimeOf(root)
	var head [8]byte
	binary.BigEndian.PutUint64(head[:], ft)
	b = append(b, head[:6]...)
	guid := sha256.Sum256([]byte(topic))
	b = append(b, guid[:16]...)

	delta := filetimeOf(at) - ft
	if at.Before(root) {
		delta = 0
	}
	var code uint32
	if delta>>49 == 0 {
		code = uint32(delta>>18) & 0x7fffffff
	} else {
		code = 1<<31 | uint32(delta>>23)&0x7fffffff
	}
	b = binary.BigEndian.AppendUint32(b, code)
	b = append(b, byte(guid[16]&0xf0)) // the random nibble, stable per topic; sequence 0
	return base64.StdEncoding.EncodeToString(b)
}

// filetimeOf is t as a FILETIME: 100 ns ticks since 1601, computed in two
// steps because a time.Duration holds only 292 years.
func filetimeOf(t time.Time) uint64 {
	const ticksPerSecond = 10_000_000
	secs := t.Unix() - filetimeEpoch.Unix()
	return uint64(secs)*ticksPerSecond + uint64(t.Nanosecond()/100)
}
