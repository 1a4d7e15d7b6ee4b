//go:build !linux

package store

// ReleaseMapped does nothing here: only Linux has been checked to drop a
// shared file mapping's pages from the RSS and keep them in the page cache.
func (s *Store) ReleaseMapped() error {
	return nil
}

// ReleaseMapped does nothing here, as Store.ReleaseMapped.
func (tx *Tx) ReleaseMapped() error {
	return nil
}

// ResidentMapped is always 0 here, where ReleaseMapped has nothing to
// release: a caller that releases once it grows never does.
func ResidentMapped() (uint64, error) {
	return 0, nil
}
