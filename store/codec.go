package store

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/bbolt"
)

// encode returns a record's value: the record version, then its JSON as
// json.Marshal writes it. An Encoder writes it after the version byte,
// where Marshal's copy would be copied again: an outbound mail's value is
// tens of KB.
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte(recordVersion)
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	// Encode ends the JSON with a newline, as Marshal does not.
	return b.Bytes()[:b.Len()-1], nil
}

// encodeDeflated is encode for the records that hold text: when their JSON
// is deflateMin bytes or more and deflating saves a quarter of it, it
// returns deflatedVersion followed by the JSON deflated.
func encodeDeflated(v any) ([]byte, error) {
	data, err := encode(v)
	if err != nil || len(data)-1 < deflateMin {
		return data, err
	}
	z, err := deflateRecord(data[1:])
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	if 4*len(z) > 3*len(data) {
		return data, nil
	}
	return z, nil
}

// deflateMin is the size of JSON from which encodeDeflated deflates: below
// it, deflate seldom saves a quarter. Outbound mails are the records
// deflated: the text, the HTML and the collaboration's history in both
// deflate to about a fifth, and they are kept after they are sent. The
// records the scheduler reads by the million (participants, people,
// collabs) stay plain, read without inflating.
const deflateMin = 1 << 10

// deflaters and inflaters hold compress/flate's writers, some 1 MB of
// state each, and readers, for reuse.
var (
	deflaters sync.Pool // of *flate.Writer
	inflaters sync.Pool // of io.ReadCloser that is a flate.Resetter
)

// deflateRecord returns deflatedVersion followed by js deflated (RFC
// 1951), at the fastest level: a mail's record is written two or three
// times on its way out, and the best level saves only a tenth more.
func deflateRecord(js []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(js) / 3)
	b.WriteByte(deflatedVersion)
	w, _ := deflaters.Get().(*flate.Writer)
	if w == nil {
		var err error
		if w, err = flate.NewWriter(&b, flate.BestSpeed); err != nil {
			return nil, err
		}
	} else {
		w.Reset(&b)
	}
	defer deflaters.Put(w)
	if _, err := w.Write(js); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// inflateRecord returns the JSON of a deflated record's value, after its
// version byte.
func inflateRecord(z []byte) ([]byte, error) {
	src := bytes.NewReader(z)
	r, _ := inflaters.Get().(io.ReadCloser)
	if r == nil {
		r = flate.NewReader(src)
	} else if err := r.(flate.Resetter).Reset(src, nil); err != nil {
		return nil, err
	}
	defer inflaters.Put(r)
	js, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("inflate: %w: %w", err, ErrCorrupt)
	}
	return js, nil
}

// decode parses a value written by encode into v. The JSON decoders copy
// what they keep, so v stays valid after the transaction. The records the
// scheduler reads most are read by fastDecode, and by encoding/json when it
// gives up on them.
func decode(data []byte, v any) error {
	if len(data) == 0 {
		return fmt.Errorf("decode %T: empty value: %w", v, ErrCorrupt)
	}
	js := data[1:]
	switch data[0] {
	case recordVersion:
	case deflatedVersion:
		var err error
		if js, err = inflateRecord(js); err != nil {
			return fmt.Errorf("decode %T: %w", v, err)
		}
	default:
		return fmt.Errorf("decode %T: record version %d unknown", v, data[0])
	}
	if fastDecode(js, v) {
		return nil
	}
	if err := json.Unmarshal(js, v); err != nil {
		return fmt.Errorf("decode %T: %w", v, err)
	}
	return nil
}

// get reads the record at key, or returns ErrNotFound.
func get[T any](b *bbolt.Bucket, key []byte) (*T, error) {
	data := b.Get(key)
	if data == nil {
		return nil, ErrNotFound
	}
	v := new(T)
	if err := decode(data, v); err != nil {
		return nil, err
	}
	return v, nil
}

// put writes the record at key.
func put(b *bbolt.Bucket, key []byte, v any) error {
	data, err := encode(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// putDeflated writes the record at key, deflated if it pays (see
// encodeDeflated).
func putDeflated(b *bbolt.Bucket, key []byte, v any) error {
	data, err := encodeDeflated(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// scan calls fn with every record whose key starts with prefix, in key order.
func scan[T any](b *bbolt.Bucket, prefix []byte, fn func(*T) error) error {
	c := b.Cursor()
	for k, data := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, data = c.Next() {
		v := new(T)
		if err := decode(data, v); err != nil {
			return fmt.Errorf("key %q: %w", k, err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

// list returns every record whose key starts with prefix, in key order.
func list[T any](b *bbolt.Bucket, prefix []byte) ([]*T, error) {
	var out []*T
	err := scan(b, prefix, func(v *T) error {
		out = append(out, v)
		return nil
	})
	return out, err
}

// cidKey starts every key of a collaboration's records: cid 0x00.
func cidKey(cid string) ([]byte, error) {
	if cid == "" || strings.IndexByte(cid, 0) >= 0 {
		return nil, fmt.Errorf("invalid collaboration id %q", cid)
	}
	k := make([]byte, 0, len(cid)+1+12)
	return append(append(k, cid...), 0), nil
}

// seqNumber returns n for an id "<prefix><n>" such as "p7" or "d3". Leading
// zeros are refused so that an id and its key map one to one.
func seqNumber(prefix byte, id string) (uint32, error) {
	digits, ok := strings.CutPrefix(id, string(prefix))
	if !ok || digits == "" || len(digits) > 1 && digits[0] == '0' {
		return 0, fmt.Errorf("invalid id %q: want %c<number>", id, prefix)
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid id %q: %w", id, err)
	}
	return uint32(n), nil
}

// number checks that a turn, version or party number fits a key.
func number(what string, n int) (uint32, error) {
	if n < 0 || int64(n) > 1<<32-1 {
		return 0, fmt.Errorf("invalid %s number %d", what, n)
	}
	return uint32(n), nil
}

func u64Key(n uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, n)
}

// appendTime appends t so that keys compare in time order.
func appendTime(k []byte, t time.Time) []byte {
	k = binary.BigEndian.AppendUint64(k, uint64(t.Unix())^(1<<63))
	return binary.BigEndian.AppendUint32(k, uint32(t.Nanosecond()))
}

// deletePrefix removes every key that starts with prefix.
func deletePrefix(b *bbolt.Bucket, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	return deleteKeys(b, keys)
}

// deleteKeys removes keys collected beforehand: deleting under a cursor can
// make it skip the next key.
func deleteKeys(b *bbolt.Bucket, keys [][]byte) error {
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("delete %x: %w", k, err)
		}
	}
	return nil
}
