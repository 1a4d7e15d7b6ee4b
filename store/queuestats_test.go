package store

import (
	"testing"
	"time"

	"github.com/turnmail/turnmail/mail"
)

func TestQueueStats(t *testing.T) {
	s, _ := openTest(t, nil)
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	if n, oldest, err := s.QueueStats(); err != nil || n != 0 || !oldest.IsZero() {
		t.Fatalf("empty queue: %d, %s, %v", n, oldest, err)
	}
	var ids []uint64
	update(t, s, func(tx *Tx) error {
		for i := range 3 {
			o := &Outbound{Kind: "handoff", Created: t0.Add(time.Duration(i) * time.Hour), NextTry: t0.Add(time.Duration(i) * time.Hour),
				Msg: mail.Outgoing{MessageID: "m@x", To: mail.Address{Addr: "a@b"}}}
			if err := tx.Enqueue(o); err != nil {
				return err
			}
			ids = append(ids, o.ID)
		}
		return nil
	})
	if err := s.MarkSent(ids[0], t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkRetry(ids[2], t0.Add(5*time.Hour), "451 later"); err != nil {
		t.Fatal(err)
	}
	n, oldest, err := s.QueueStats()
	if err != nil || n != 2 || !oldest.Equal(t0.Add(time.Hour)) {
		t.Errorf("QueueStats = %d, %s, %v; want 2 waiting, the oldest queued at %s", n, oldest, err, t0.Add(time.Hour))
	}
	if err := s.Writable(); err != nil {
		t.Errorf("Writable: %v", err)
	}
	if size, err := s.FileSize(); err != nil || size <= 0 {
		t.Errorf("FileSize = %d, %v", size, err)
	}
}
