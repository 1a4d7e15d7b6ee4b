package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnmail/turnmail/mail/tag"
	"github.com/turnmail/turnmail/store"
	"github.com/turnmail/turnmail/workflow"
)

// TestRunTicksRecoversPanic makes the store panic in the first two ticks'
// write transactions (the daily pruning of markers writes even in an empty
// store): both panics are logged with their stack and the schedule goes on
// to a third tick.
func TestRunTicksRecoversPanic(t *testing.T) {
	var writes atomic.Int32
	st, err := store.Open(filepath.Join(t.TempDir(), "turnmail.db"), &store.Options{Fault: func() error {
		if writes.Add(1) <= 2 {
			panic("boom")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tagger, err := tag.NewTagger("collab@gw.example", []byte("0123456789abcdef-test-secret"))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer // written by runTicks only, read once it returned
	log := slog.New(slog.NewTextHandler(&logs, nil))
	engine := workflow.New(st, tagger, workflow.Config{}, log)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runTicks(ctx, engine, log, time.Millisecond)
	}()
	waitFor(t, "a third tick's write", func() bool { return writes.Load() >= 3 })
	cancel()
	<-done

	if n := strings.Count(logs.String(), `msg="tick panic" panic=boom stack=`); n != 2 {
		t.Errorf("%d panics logged with their stack, want 2:\n%s", n, logs.String())
	}
}
