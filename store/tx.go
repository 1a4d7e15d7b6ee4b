package store

import (
	"sync"

	"go.etcd.io/bbolt"
)

// Tx is a transaction of Store.Update or Store.View. Records it returns are
// copies, valid after the transaction; records it is given may be changed by
// the caller once the call returns.
type Tx struct {
	tx       *bbolt.Tx
	enqueued bool // Enqueue was called; Update signals Enqueued on commit
	// readMu serialises the reads of BlobAts, which callers may make from
	// several goroutines: a bbolt transaction is not safe for concurrent use.
	readMu sync.Mutex
}

func (tx *Tx) bucket(name []byte) *bbolt.Bucket {
	// Open created every bucket, or checked they exist.
	return tx.tx.Bucket(name)
}
