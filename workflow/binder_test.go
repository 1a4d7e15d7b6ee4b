package workflow_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/turnmail/turnmail/store"
	"github.com/turnmail/turnmail/workflow"
)

// bobsNote is a turn note whose first line says nothing: the binder must
// carry the rest.
const bobsNote = "Dear Alice,\n\nClause 4 reworded as agreed.\nClause 7 struck: see the margin."

// wrappedUp runs a collaboration to its end: Alice starts, Bob hands v2
// back with bobsNote, Alice wraps up with body. It returns the collaboration,
// everyone's tagged address, v2 and the mail the wrap-up caused.
func wrappedUp(t *testing.T, r *rig, body string) (*store.Collab, map[string]string, []byte, []*sent) {
	t.Helper()
	c := r.start(fileData(1, 3000))
	tags := tagsOf(t, r.newMail())
	v2 := fileData(2, 3100)
	r.mustSend(&testMail{from: bob, fromName: "Bob Axe", to: []string{tags[bob]}, subject: "Re: x", msgid: "bob-v2@axe.test",
		body: bobsNote, files: []testFile{{"contract - AXE.docx", v2}}}, tags[bob])
	r.newMail()
	r.mustSend(&testMail{from: alice, to: []string{tags[alice]}, subject: "Re: x", msgid: "alice-wrap@acme.test", body: body}, tags[alice])
	return c, tags, v2, r.newMail()
}

// TestWrapupBinder: DESIGN §2.7. The owner's /wrapup with a note sends both
// parties, all four people, the closing binder: that note as the closing
// note (not a comment for her own party), the final version of each document
// and the full history, every note whole. The note is kept for the export.
func TestWrapupBinder(t *testing.T) {
	r := newRig(t, rigOptions{})
	closing := "Thank you all: v2 is final.\nSigned copies follow by post to R&D <legal>."
	c, _, v2, mails := wrappedUp(t, r, "/wrapup\n"+closing)

	if got := recipients(mails); !slices.Equal(sorted(got), []string{alice, bob, carol, dave}) {
		t.Fatalf("the wrap-up mailed %s, want one binder to each of the four", describe(mails))
	}
	for _, who := range []string{alice, bob, carol, dave} {
		m := to(t, mails, who)
		if m.kind != "binder" {
			t.Errorf("%s got a %s, want the binder", who, m.kind)
		}
		if !bytes.Equal(m.atts["contract (v2).docx"], v2) || len(m.atts) != 1 {
			t.Errorf("%s's binder carries %v, want contract (v2).docx", who, keys(m.atts))
		}
		for _, want := range []string{
			"Thank you all: v2 is final.", "Signed copies follow by post to R&D <legal>.",
			"contract.docx: v2", "Turn 1 · ACME", "Turn 2 · AXE · Bob Axe",
			"    Dear Alice,", "    Clause 4 reworded as agreed.", "    Clause 7 struck: see the margin.",
		} {
			if !strings.Contains(m.msg.Text, want) {
				t.Errorf("%s's binder lacks %q:\n%s", who, want, m.msg.Text)
			}
		}
		if strings.Contains(m.msg.Text, "…") {
			t.Errorf("%s's binder cuts a note:\n%s", who, m.msg.Text)
		}
		for _, want := range []string{"Signed copies follow by post to R&amp;D &lt;legal&gt;.", "Dear Alice,<br>", "Clause 7 struck: see the margin."} {
			if !strings.Contains(m.msg.HTML, want) {
				t.Errorf("%s's binder HTML lacks %q:\n%s", who, want, m.msg.HTML)
			}
		}
	}

	got := r.collab()
	if got.State != store.StateWrapped || got.ClosingNote != closing {
		t.Errorf("after /wrapup: state %s, closing note %q", got.State, got.ClosingNote)
	}
	var v *workflow.CollabView
	if err := r.st.View(func(tx *store.Tx) (err error) { v, err = workflow.LoadView(tx, c.ID); return err }); err != nil {
		t.Fatal(err)
	}
	if v.ClosingNote != closing {
		t.Errorf("the view's closing note is %q", v.ClosingNote)
	}
}

// TestWrapupWithFiles: the owner ends her party's turn with a file and
// /wrapup in one mail. Nobody is handed a turn of a collaboration that is
// over: everyone gets the binder, with the new version and the turn it
// ended.
func TestWrapupWithFiles(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 3000))
	tags := tagsOf(t, r.newMail())
	r.mustSend(&testMail{from: bob, to: []string{tags[bob]}, subject: "Re: x", msgid: "bob-done@axe.test", body: "/done\nFine by us."}, tags[bob])
	r.newMail()
	v2 := fileData(3, 3000)
	r.mustSend(&testMail{from: alice, to: []string{tags[alice]}, subject: "Re: x", msgid: "alice-final@acme.test",
		body: "/wrapup\nThe signed version.", files: []testFile{{"contract signed.docx", v2}}}, tags[alice])
	mails := r.newMail()
	if len(mails) != 4 {
		t.Fatalf("mails %s, want one binder each", describe(mails))
	}
	for _, m := range mails {
		if m.kind != "binder" || strings.HasPrefix(m.msg.Subject, "Your turn") || !bytes.Equal(m.atts["contract (v2).docx"], v2) {
			t.Errorf("%s got a %s %q with %v", m.out.Msg.To.Addr, m.kind, m.msg.Subject, keys(m.atts))
		}
		if !strings.Contains(m.msg.Text, "Turn 3 · ACME") || strings.Contains(m.msg.Text, "hand the turn back") {
			t.Errorf("%s's binder:\n%s", m.out.Msg.To.Addr, m.msg.Text)
		}
	}
	if got := r.turns(c.ID); len(got) != 3 || got[2].Note != "The signed version." {
		t.Errorf("turns after the final file: %d", len(got))
	}
}

// TestReopenTellsEveryone: /reopen mails everyone once: who reopened it and
// whose turn it is; the closing note no longer stands.
func TestReopenTellsEveryone(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, tags, _, _ := wrappedUp(t, r, "/wrapup\nDone.")
	r.mustSend(&testMail{from: alice, to: []string{tags[alice]}, subject: "Re: x", msgid: "alice-reopen@acme.test", body: "/reopen"}, tags[alice])
	mails := r.newMail()
	if got := recipients(mails); !slices.Equal(sorted(got), []string{alice, bob, carol, dave}) {
		t.Fatalf("the reopening mailed %s, want everyone once", describe(mails))
	}
	for _, who := range []string{alice, bob, carol, dave} {
		m := to(t, mails, who)
		if !strings.Contains(m.msg.Text, "Alice Acme reopened “Services contract”: turn 3 is with ACME.") {
			t.Errorf("%s was told:\n%s", who, m.msg.Text)
		}
	}
	if m := to(t, mails, alice); !strings.Contains(m.msg.Text, "Your party holds the turn: reply with your edited files") {
		t.Errorf("alice, leader of the party holding the turn, was told:\n%s", m.msg.Text)
	}
	if m := to(t, mails, bob); !strings.Contains(m.msg.Text, "when ACME hands the turn over") {
		t.Errorf("bob was told:\n%s", m.msg.Text)
	}
	if c := r.collab(); c.State != store.StateActive || c.ClosingNote != "" || !c.Wrapped.IsZero() {
		t.Errorf("after /reopen: %s, closing note %q, wrapped %s", c.State, c.ClosingNote, c.Wrapped)
	}
}
