package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// encode returns a record's value: the schema version, then its JSON as
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

// decode parses a value written by encode into v. The JSON decoders copy
// what they keep, so v stays valid after the transaction. The records the
// scheduler reads most are read by fastDecode, and by encoding/json when it
// gives up on them.
func decode(data []byte, v any) error {
	if len(data) == 0 {
		return fmt.Errorf("decode %T: empty value: %w", v, ErrCorrupt)
	}
	if data[0] != recordVersion {
		return fmt.Errorf("decode %T: record version %d unknown", v, data[0])
	}
	if fastDecode(data[1:], v) {
		return nil
	}
	if err := json.Unmarshal(data[1:], v); err != nil {
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
