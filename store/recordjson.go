package store

import (
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// The records a scheduler tick reads by the million (a collaboration for
// each membership of each person, every collaboration every minute, and the
// turns, participants and documents of the week's) are read here without
// encoding/json, whose reflection took a third of a weekly tick's CPU. This
// reader takes the JSON that encoding/json writes for them, in any order,
// and gives up on anything else: a key it does not know or meets twice, a
// null, a number that is not an integer, an escape that is a surrogate
// half, bytes that are not UTF-8. decode then reads the record with
// encoding/json, so what this reader takes it reads as encoding/json does
// (FuzzRecordJSON holds it to that), and what it gives up on reads as it
// always did.

// jsonIn reads one JSON value from data; ok turns false, for good, at the
// first thing it does not take.
type jsonIn struct {
	data []byte
	i    int
	ok   bool
}

// fastDecode reads data, a record's JSON, into v when v is a record it
// knows and data is what it takes, and reports whether it did. v is left
// as it was when it did not.
func fastDecode(data []byte, v any) bool {
	in := &jsonIn{data: data, ok: true}
	switch v := v.(type) {
	case *Collab:
		var c Collab
		if in.collab(&c); in.end() {
			*v = c
			return true
		}
	case *Participant:
		var p Participant
		if in.participant(&p); in.end() {
			*v = p
			return true
		}
	case *Turn:
		var t Turn
		if in.turn(&t); in.end() {
			*v = t
			return true
		}
	case *Document:
		var d Document
		if in.document(&d); in.end() {
			*v = d
			return true
		}
	}
	return false
}

func (in *jsonIn) collab(c *Collab) {
	in.object(func(key string) bool {
		switch key {
		case "id":
			c.ID = in.str()
		case "subject":
			c.Subject = in.str()
		case "state":
			c.State = in.str()
		case "owner":
			c.Owner = in.str()
		case "created":
			in.time(&c.Created)
		case "wrapped":
			in.time(&c.Wrapped)
		case "turn":
			c.Turn = in.int()
		case "turn_party":
			c.TurnParty = in.int()
		case "turn_since":
			in.time(&c.TurnSince)
		case "parties":
			c.Parties = []Party{}
			in.array(func() {
				var p Party
				in.object(func(key string) bool {
					if key != "name" {
						return false
					}
					p.Name = in.str()
					return true
				})
				c.Parties = append(c.Parties, p)
			})
		case "next_pid":
			c.NextPID = in.int()
		case "next_doc":
			c.NextDoc = in.int()
		case "root_msgid":
			c.RootMsgID = in.str()
		case "deadline":
			in.time(&c.Deadline)
		case "deadline_date":
			c.DeadlineDate = in.str()
		case "closing_note":
			c.ClosingNote = in.str()
		default:
			return false
		}
		return true
	})
}

func (in *jsonIn) participant(p *Participant) {
	in.object(func(key string) bool {
		switch key {
		case "id":
			p.ID = in.str()
		case "address":
			p.Address = in.str()
		case "name":
			p.Name = in.str()
		case "party":
			p.Party = in.int()
		case "role":
			p.Role = in.str()
		case "added":
			in.time(&p.Added)
		case "thread":
			p.Thread = []string{}
			in.array(func() { p.Thread = append(p.Thread, in.str()) })
		case "pending":
			p.Pending = in.bool()
		case "removed":
			in.time(&p.Removed)
		default:
			return false
		}
		return true
	})
}

func (in *jsonIn) turn(t *Turn) {
	in.object(func(key string) bool {
		switch key {
		case "number":
			t.Number = in.int()
		case "party":
			t.Party = in.int()
		case "started":
			in.time(&t.Started)
		case "ended":
			in.time(&t.Ended)
		case "ended_by":
			t.EndedBy = in.str()
		case "how":
			t.How = in.str()
		case "note":
			t.Note = in.str()
		case "stripped":
			t.Stripped = in.str()
		case "msgid":
			t.MsgID = in.str()
		case "versions":
			t.Versions = []VersionRef{}
			in.array(func() {
				var v VersionRef
				in.object(func(key string) bool {
					switch key {
					case "doc":
						v.Doc = in.str()
					case "number":
						v.Number = in.int()
					default:
						return false
					}
					return true
				})
				t.Versions = append(t.Versions, v)
			})
		default:
			return false
		}
		return true
	})
}

func (in *jsonIn) document(d *Document) {
	in.object(func(key string) bool {
		switch key {
		case "id":
			d.ID = in.str()
		case "name":
			d.Name = in.str()
		case "created":
			in.time(&d.Created)
		default:
			return false
		}
		return true
	})
}

// end reports whether the value read was the whole of data, but for
// white space, and all of it was taken.
func (in *jsonIn) end() bool {
	in.space()
	return in.ok && in.i == len(in.data)
}

func (in *jsonIn) space() {
	for in.i < len(in.data) {
		switch in.data[in.i] {
		case ' ', '\t', '\n', '\r':
			in.i++
		default:
			return
		}
	}
}

// next skips white space and takes c, or gives up.
func (in *jsonIn) next(c byte) bool {
	in.space()
	if !in.ok || in.i == len(in.data) || in.data[in.i] != c {
		in.ok = false
		return false
	}
	in.i++
	return true
}

// peek skips white space and reports whether c comes next.
func (in *jsonIn) peek(c byte) bool {
	in.space()
	return in.ok && in.i < len(in.data) && in.data[in.i] == c
}

// object reads an object, calling field with each key, where the key's
// value comes next; field reads it, or returns false for a key it does not
// know. A key met twice gives up: encoding/json would merge the second
// into what the first gave a slice, which nothing here does.
func (in *jsonIn) object(field func(key string) bool) {
	if !in.next('{') {
		return
	}
	if in.peek('}') {
		in.i++
		return
	}
	var seenKeys [20]string // a record's keys, on the stack
	seen := seenKeys[:0]
	for in.ok {
		key := in.str()
		if !in.next(':') {
			return
		}
		for _, k := range seen {
			if k == key {
				in.ok = false
				return
			}
		}
		seen = append(seen, key)
		if !field(key) {
			in.ok = false
			return
		}
		if in.peek(',') {
			in.i++
			continue
		}
		in.next('}')
		return
	}
}

// array reads an array, calling elem for each element, which reads it.
func (in *jsonIn) array(elem func()) {
	if !in.next('[') {
		return
	}
	if in.peek(']') {
		in.i++
		return
	}
	for in.ok {
		elem()
		if in.peek(',') {
			in.i++
			continue
		}
		in.next(']')
		return
	}
}

// literal returns the bytes of the string at the reader, its quotes
// included, whether it has escapes and whether it has bytes beyond ASCII;
// or gives up when there is none.
func (in *jsonIn) literal() (lit []byte, escaped, high bool) {
	if !in.next('"') {
		return nil, false, false
	}
	start := in.i - 1
	for in.i < len(in.data) {
		c := in.data[in.i]
		if strByte[c] == 0 {
			in.i++
			continue
		}
		switch {
		case c == '"':
			in.i++
			return in.data[start:in.i], escaped, high
		case c == '\\':
			escaped = true
			in.i += 2
		case c < ' ':
			in.ok = false
			return nil, false, false
		default:
			high = true
			in.i++
		}
	}
	in.ok = false
	return nil, false, false
}

// strByte is 1 for the bytes a string's scan stops at: the quote, the
// backslash, control characters and bytes beyond ASCII.
var strByte = func() (t [256]byte) {
	for c := range 256 {
		if c == '"' || c == '\\' || c < ' ' || c >= utf8.RuneSelf {
			t[c] = 1
		}
	}
	return t
}()

// str reads a string.
func (in *jsonIn) str() string {
	lit, escaped, high := in.literal()
	if !in.ok {
		return ""
	}
	body := lit[1 : len(lit)-1]
	if high && !utf8.Valid(body) {
		// encoding/json makes each bad byte U+FFFD.
		in.ok = false
		return ""
	}
	if !escaped {
		return string(body)
	}
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch body[i] {
		case '"', '\\', '/':
			out = append(out, body[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+4 >= len(body) {
				in.ok = false
				return ""
			}
			r, err := strconv.ParseUint(string(body[i+1:i+5]), 16, 16)
			if err != nil || utf16.IsSurrogate(rune(r)) {
				in.ok = false
				return ""
			}
			out = utf8.AppendRune(out, rune(r))
			i += 4
		default:
			in.ok = false
			return ""
		}
	}
	return string(out)
}

// time reads a time as encoding/json does: its UnmarshalJSON gets the
// string, quotes and all.
func (in *jsonIn) time(t *time.Time) {
	lit, _, _ := in.literal()
	if in.ok && t.UnmarshalJSON(lit) != nil {
		in.ok = false
	}
}

// int reads an integer: digits, maybe after a minus, and no leading zero.
func (in *jsonIn) int() int {
	in.space()
	start := in.i
	if in.i < len(in.data) && in.data[in.i] == '-' {
		in.i++
	}
	digits := in.i
	for in.i < len(in.data) && '0' <= in.data[in.i] && in.data[in.i] <= '9' {
		in.i++
	}
	switch {
	case !in.ok || in.i == digits, in.data[digits] == '0' && in.i > digits+1:
		in.ok = false
		return 0
	case in.i < len(in.data):
		// A fraction or an exponent: not an int's.
		if c := in.data[in.i]; c == '.' || c == 'e' || c == 'E' {
			in.ok = false
			return 0
		}
	}
	n, err := strconv.ParseInt(string(in.data[start:in.i]), 10, 0)
	if err != nil {
		in.ok = false
		return 0
	}
	return int(n)
}

// bool reads true or false.
func (in *jsonIn) bool() bool {
	in.space()
	rest := in.data[in.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		in.i += 4
		return true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		in.i += 5
		return false
	}
	in.ok = false
	return false
}
