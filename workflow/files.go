package workflow

import (
	"errors"
	"fmt"
	"io"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/store"
)

// ErrNoSuchFile is returned by OpenFile for a file a collaboration does not
// hold.
var ErrNoSuchFile = errors.New("workflow: no such file in the collaboration")

// OpenFile opens the stored file with digest of collaboration cid, a
// version or a draft of one of its documents, for a download link; it
// returns ErrNoSuchFile for any other blob, so that a link signed for one
// collaboration opens nothing else.
func (e *Engine) OpenFile(cid, digest string) (io.ReadCloser, *mail.Blob, error) {
	var found *mail.Blob
	err := e.st.View(func(tx *store.Tx) error {
		docs, err := tx.Documents(cid)
		if err != nil {
			return err
		}
		for _, doc := range docs {
			vs, err := tx.Versions(cid, doc.ID)
			if err != nil {
				return err
			}
			for _, v := range vs {
				if v.Blob.Digest == digest {
					found = &v.Blob
					return nil
				}
			}
		}
		for party := range 2 {
			drafts, err := tx.Drafts(cid, party)
			if err != nil {
				return err
			}
			for _, dr := range drafts {
				if dr.Blob.Digest == digest {
					found = &dr.Blob
					return nil
				}
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && found == nil) {
		return nil, nil, ErrNoSuchFile
	}
	if err != nil {
		return nil, nil, fmt.Errorf("find file %s of %s: %w", digest, cid, err)
	}
	rc, err := e.st.OpenBlob(digest)
	if err != nil {
		return nil, nil, err
	}
	return rc, found, nil
}
