package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/turnmail/turnmail/store"
	"github.com/turnmail/turnmail/workflow"
)

// crashFigures is what a TestCrash run did and found: the figures the
// README quotes.
type crashFigures struct {
	mails, accepted, refused, retried int
	redelivered                       int // committed, the 250 cut off by a kill, sent again
	swept                             int // start-ups that swept what a kill left unreferenced
	kills                             int
	tempfails                         map[string]int // 4xx replies and connection errors, by kind
	outcomes                          map[string]int // of the accepted mails
	collabs, turns, versions          int

	queued, delivered, lost, doubled int
	boltProblems                     int

	loadTime, drainTime, total time.Duration
}

func (f *crashFigures) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "crash: %d mails sent by %d clients in %s, %d kills (SIGKILL); %d answered 250, %d refused with a 5xx, %d sent more than once\n",
		f.mails, crashClients, f.loadTime.Round(time.Second), f.kills, f.accepted, f.refused, f.retried)
	fmt.Fprintf(&b, "crash: tried again after: %s; %d redelivered after their commit, recognised as duplicates\n", counts(f.tempfails), f.redelivered)
	fmt.Fprintf(&b, "crash: applied: %s; %d collaborations, %d turns ended, %d versions\n", counts(f.outcomes), f.collabs, f.turns, f.versions)
	fmt.Fprintf(&b, "crash: outbound: %d queued, %d delivered, %d lost, %d doubled (same Message-ID twice)\n",
		f.queued, f.delivered, f.lost, f.doubled)
	fmt.Fprintf(&b, "crash: %d start-ups swept what a kill left unreferenced; bbolt check: %d problems; %s draining the queue, %s in all",
		f.swept, f.boltProblems, f.drainTime.Round(time.Second), f.total.Round(time.Second))
	return b.String()
}

// counts writes a tally as "a 3, b 1", largest first.
func counts(m map[string]int) string {
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int { return m[b] - m[a] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// problems collects what a check found, reporting the first few of each
// check in full and the rest as a count, so that one broken invariant does
// not bury the others.
type problems struct {
	t     *testing.T
	check string
	n     int
}

func (p *problems) add(format string, args ...any) {
	p.t.Helper()
	p.n++
	if p.n <= 10 {
		p.t.Errorf("%s: %s", p.check, fmt.Sprintf(format, args...))
	}
}

func (p *problems) done() {
	if p.n > 10 {
		p.t.Errorf("%s: %d problems in all", p.check, p.n)
	}
}

// checkCrash checks a drained run, with the daemon stopped: the mails
// against the audit records, the collaborations against themselves and the
// records, the outbound queue against what the smarthost got, and the bbolt
// file.
func checkCrash(t *testing.T, d *crashDaemon, load *crashLoad, sink *crashSink, dbPath string) *crashFigures {
	t.Helper()
	f := &crashFigures{outcomes: map[string]int{}}
	load.mu.Lock()
	f.tempfails = maps.Clone(load.tempfails)
	load.mu.Unlock()

	// What the operator sees: the audit, read with the CLI.
	out, err := d.cli("inbound", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var inbound []*store.Inbound
	if err := json.Unmarshal(out, &inbound); err != nil {
		t.Fatalf("inbound --json: %v", err)
	}
	byMsgID := map[string][]*store.Inbound{}
	for _, in := range inbound {
		byMsgID[in.MsgID] = append(byMsgID[in.MsgID], in)
	}

	// Every 250 applied exactly once; nothing of a 5xx kept.
	p := &problems{t: t, check: "exactly once"}
	mails := load.all()
	ours := map[string]*crashMail{}
	var applied []*crashMail
	for _, m := range mails {
		ours[m.msgID] = m
		f.mails++
		if m.tries > 1 {
			f.retried++
		}
		recs := byMsgID[m.msgID]
		switch {
		case m.code == 250:
			f.accepted++
			if len(recs) != 1 {
				p.add("%s (%s, %d tries) answered 250 has %d audit records", m.msgID, m.kind, m.tries, len(recs))
				continue
			}
			f.outcomes[recs[0].Outcome]++
			applied = append(applied, m)
			if m.kind == crashStart && recs[0].Outcome != store.OutcomeStarted {
				p.add("%s started nothing: outcome %s (%s)", m.msgID, recs[0].Outcome, recs[0].Detail)
			}
		case m.code >= 500:
			f.refused++
			if len(recs) != 0 {
				p.add("%s refused with %q has %d audit records", m.msgID, m.reply, len(recs))
			}
		default:
			p.add("%s (%s) never got a final answer in %d tries", m.msgID, m.kind, m.tries)
		}
	}
	for _, in := range inbound {
		if ours[in.MsgID] == nil {
			p.add("audit record %d for %q, which no client sent", in.ID, in.MsgID)
		}
	}
	p.done()

	views := loadViews(t, d, dbPath)
	f.collabs = len(views)
	checkViews(t, f, views, inbound)
	checkVersions(t, views, applied, byMsgID)
	checkOutbound(t, f, sink, dbPath)
	f.boltProblems = checkBolt(t, dbPath)
	return f
}

// loadViews reads every collaboration: the list with `list --json`, each
// one in the same read transaction of the store, and a few of them with
// `show --json` as well, which must say the same. (A process per
// collaboration would take longer than the load.)
func loadViews(t *testing.T, d *crashDaemon, dbPath string) map[string]*workflow.CollabView {
	t.Helper()
	out, err := d.cli("list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var list []workflow.CollabSummary
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatalf("list --json: %v", err)
	}
	st, err := store.Open(dbPath, &store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	views := make(map[string]*workflow.CollabView, len(list))
	err = st.View(func(tx *store.Tx) error {
		for _, c := range list {
			v, err := workflow.LoadView(tx, c.ID)
			if err != nil {
				return err
			}
			views[c.ID] = v
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range list {
		if i%max(1, len(list)/10) != 0 {
			continue
		}
		out, err := d.cli("show", "--json", c.ID)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.MarshalIndent(views[c.ID], "", "  ")
		if strings.TrimSpace(string(out)) != string(want) {
			t.Errorf("show --json %s:\n%s\nwant, as the store has it:\n%s", c.ID, out, want)
		}
	}
	return views
}

// checkViews checks that each collaboration holds together: turns numbered
// from 1 without a gap and the open one after them, every version made in an
// ended turn that names it, and as many turns ended by mail as the audit says.
func checkViews(t *testing.T, f *crashFigures, views map[string]*workflow.CollabView, inbound []*store.Inbound) {
	t.Helper()
	started, ended := map[string]int{}, map[string]int{}
	for _, in := range inbound {
		switch in.Outcome {
		case store.OutcomeStarted:
			started[in.Collab]++
		case store.OutcomeTurn:
			ended[in.Collab]++
		}
	}
	p := &problems{t: t, check: "consistent"}
	for id, v := range views {
		f.turns += len(v.Turns)
		if started[id] != 1 {
			p.add("%s: %d audit records started it", id, started[id])
		}
		// Turn 1 ends as the collaboration starts; every other by a mail.
		if len(v.Turns) != ended[id]+1 {
			p.add("%s: %d turns ended, %d mails ended one", id, len(v.Turns), ended[id])
		}
		for i, turn := range v.Turns {
			if turn.Number != i+1 {
				p.add("%s: turn %d in place %d", id, turn.Number, i+1)
			}
		}
		if v.State != store.StateWrapped && v.Turn.Number != len(v.Turns)+1 {
			p.add("%s: turn %d open after %d ended", id, v.Turn.Number, len(v.Turns))
		}
		made := map[workflow.VersionRef]int{} // version → its turn
		for _, doc := range v.Documents {
			for i, ver := range doc.Versions {
				f.versions++
				ref := workflow.VersionRef{Document: doc.Name, Number: ver.Number}
				made[ref] = ver.Turn
				if ver.Number != i+1 {
					p.add("%s: %s v%d in place %d", id, doc.Name, ver.Number, i+1)
				}
				if ver.Turn < 1 || ver.Turn > len(v.Turns) {
					p.add("%s: %s v%d made in turn %d, not an ended one", id, doc.Name, ver.Number, ver.Turn)
				} else if !slices.Contains(v.Turns[ver.Turn-1].Versions, ref) {
					p.add("%s: %s v%d made in turn %d, which does not name it", id, doc.Name, ver.Number, ver.Turn)
				}
			}
		}
		for _, turn := range v.Turns {
			for _, ref := range turn.Versions {
				if n, ok := made[ref]; !ok || n != turn.Number {
					p.add("%s: turn %d names %s v%d, made in turn %d", id, turn.Number, ref.Document, ref.Number, n)
				}
			}
		}
	}
	for id := range started {
		if views[id] == nil {
			p.add("audit says %s started, list does not have it", id)
		}
	}
	p.done()
}

// checkVersions checks that each accepted mail whose file started a
// collaboration or ended a turn left that very file as a version, by its
// sender: the mail was applied whole.
func checkVersions(t *testing.T, views map[string]*workflow.CollabView, applied []*crashMail, byMsgID map[string][]*store.Inbound) {
	t.Helper()
	p := &problems{t: t, check: "whole"}
	for _, m := range applied {
		in := byMsgID[m.msgID][0]
		if m.fileSHA == "" || (in.Outcome != store.OutcomeStarted && in.Outcome != store.OutcomeTurn) {
			continue
		}
		v := views[in.Collab]
		if v == nil {
			p.add("%s: %s in %q, which does not exist", m.msgID, in.Outcome, in.Collab)
			continue
		}
		found := false
		for _, doc := range v.Documents {
			for _, ver := range doc.Versions {
				if ver.SHA256 == m.fileSHA {
					found = true
					if !strings.EqualFold(ver.Author, m.from) {
						p.add("%s: its file is %s v%d by %s, not %s", m.msgID, doc.Name, ver.Number, ver.Author, m.from)
					}
				}
			}
		}
		if !found {
			p.add("%s: %s in %s, but its file is no version", m.msgID, in.Outcome, in.Collab)
		}
	}
	p.done()
}

// queuedOutbound counts the outbound mail still queued, on a store nobody
// else has open for writing.
func queuedOutbound(dbPath string) (int, error) {
	st, err := store.Open(dbPath, &store.Options{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer st.Close()
	n := 0
	err = st.View(func(tx *store.Tx) error {
		return tx.Outbounds(func(o *store.Outbound) error {
			if o.State == store.OutboundQueued {
				n++
			}
			return nil
		})
	})
	return n, err
}

// checkOutbound compares the outbound queue with what the smarthost got:
// every mail queued delivered at least once (lost otherwise), none
// delivered that was never queued. Copies of one are counted as doubled.
func checkOutbound(t *testing.T, f *crashFigures, sink *crashSink, dbPath string) {
	t.Helper()
	st, err := store.Open(dbPath, &store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := &problems{t: t, check: "delivered"}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, bad := range sink.bad {
		p.add("the smarthost got %s", bad)
	}
	queued := map[string]bool{}
	err = st.View(func(tx *store.Tx) error {
		return tx.Outbounds(func(o *store.Outbound) error {
			f.queued++
			key := crashKey(o.Msg.MessageID, o.Msg.To.Addr)
			if queued[key] {
				p.add("outbound %d: a second message %s", o.ID, key)
			}
			queued[key] = true
			n := sink.delivered[key]
			switch {
			case n == 0:
				f.lost++
				p.add("outbound %d (%s, %s) lost: %s after %d attempts, never delivered (%s)", o.ID, o.Kind, key, o.State, o.Attempts, o.LastError)
			case o.State != store.OutboundSent:
				p.add("outbound %d (%s, %s) delivered, but %s (%s)", o.ID, o.Kind, key, o.State, o.LastError)
			}
			if n > 0 {
				f.delivered++
			}
			if n > 1 {
				f.doubled++
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for key := range sink.delivered {
		if !queued[key] {
			p.add("the smarthost got %s, which was never queued", key)
		}
	}
	p.done()
}

// checkBolt runs bbolt's own consistency check over the whole file: every
// page reachable once, no page both free and in use, keys in order.
func checkBolt(t *testing.T, dbPath string) int {
	t.Helper()
	db, err := bbolt.Open(dbPath, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := &problems{t: t, check: "bbolt check"}
	err = db.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			p.add("%v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p.done()
	return p.n
}
