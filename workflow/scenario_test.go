package workflow_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/turnmail/turnmail/store"
)

const (
	alice = "alice@acme.test" // owner, leader of ACME
	carol = "carol@acme.test" // Cc'd: contributor of ACME
	bob   = "bob@axe.test"    // To: leader of AXE
	dave  = "dave@axe.test"   // Cc'd: contributor of AXE
	gw    = "collab@gw.test"
)

// start sends Alice's first mail: to Bob, Cc Carol, Dave and the gateway,
// with contract.docx attached.
func (r *rig) start(v1 []byte) *store.Collab {
	r.t.Helper()
	r.mustSend(&testMail{
		from: alice, fromName: "Alice Acme", to: []string{"Bob Axe <" + bob + ">"}, cc: []string{carol, dave, gw},
		subject: "Services contract", msgid: "start-1@acme.test",
		body:  "Bob, here is our draft.\n\nAlice",
		files: []testFile{{"contract.docx", v1}},
	}, gw)
	return r.collab()
}

func TestStartCollaboration(t *testing.T) {
	r := newRig(t, rigOptions{})
	v1 := fileData(1, 30_000)
	c := r.start(v1)

	if c.State != store.StateActive || c.Turn != 2 || c.TurnParty != 1 {
		t.Fatalf("collab state %s turn %d party %d, want active, 2, 1", c.State, c.Turn, c.TurnParty)
	}
	if got := []string{c.Parties[0].Name, c.Parties[1].Name}; !slices.Equal(got, []string{"ACME", "AXE"}) {
		t.Errorf("parties %v", got)
	}
	var people []*store.Participant
	r.st.View(func(tx *store.Tx) (err error) { people, err = tx.Participants(c.ID); return })
	roles := map[string]string{}
	for _, p := range people {
		roles[p.Address] = c.Parties[p.Party].Name + "/" + p.Role
	}
	want := map[string]string{alice: "ACME/leader", carol: "ACME/contributor", bob: "AXE/leader", dave: "AXE/contributor"}
	for a, w := range want {
		if roles[a] != w {
			t.Errorf("%s is %q, want %q", a, roles[a], w)
		}
	}
	if len(roles) != 4 {
		t.Errorf("participants %v: the gateway must not be one", roles)
	}
	vs := r.versions(c.ID, "contract.docx")
	if len(vs) != 1 || vs[0].Turn != 1 || !bytes.Equal(r.blob(vs[0].Blob.Digest), v1) {
		t.Fatalf("versions after start: %+v", vs)
	}

	mails := r.newMail()
	if got := recipients(mails); len(got) != 4 {
		t.Fatalf("recipients %v, want all four participants", got)
	}
	h := to(t, mails, bob)
	if h.kind != "handoff" || h.msg.Subject != "Re: Services contract [tm:"+c.ID+"]" || !strings.HasPrefix(h.msg.Text, "Your turn on") || !strings.Contains(h.msg.Subject, "[tm:"+c.ID+"]") {
		t.Errorf("bob got %s %q", h.kind, h.msg.Subject)
	}
	if got := h.atts["contract (v1).docx"]; !bytes.Equal(got, v1) {
		t.Errorf("handoff attachments %v, want contract (v1).docx with v1's bytes", keys(h.atts))
	}
	if len(h.msg.ReplyTo) != 1 || !strings.HasPrefix(h.msg.ReplyTo[0].Addr, "collab+"+c.ID+".") {
		t.Errorf("handoff Reply-To %v, want bob's tagged address", h.msg.ReplyTo)
	}
	for _, hdr := range []string{"Auto-Submitted: auto-generated", "List-Post: <mailto:collab+" + c.ID, "In-Reply-To: <start-1@acme.test>", "From: \"Alice Acme (via turnmail)\" <collab@gw.test>"} {
		if !strings.Contains(h.raw, hdr) {
			t.Errorf("handoff lacks %q", hdr)
		}
	}
	if d := to(t, mails, dave); d.kind != "handoff" {
		t.Errorf("dave (AXE) got %s, want the handoff too", d.kind)
	}
	for _, a := range []string{alice, carol} {
		if m := to(t, mails, a); m.kind != "confirm" || len(m.atts) != 0 {
			t.Errorf("%s got %s with %d attachments, want a confirmation without", a, m.kind, len(m.atts))
		}
	}
}

// TestTurnByTurn is the scenario: start by cc, Bob replies with his
// edit under another name, Alice gets the handoff with his note, the file as
// "contract (v2).docx", the change and the digest; then Reply-All to the
// other person with the gateway in Cc (no tag) hands it back again.
func TestTurnByTurn(t *testing.T) {
	r := newRig(t, rigOptions{})
	v1, v2, v3 := fileData(1, 30_000), fileData(2, 31_000), fileData(3, 32_000)
	c := r.start(v1)
	first := r.newMail()
	handoff := to(t, first, bob)
	bobTag := handoff.msg.ReplyTo[0].Addr
	aliceConfirm := to(t, first, alice).msg.MessageID

	// Bob: Reply to the handoff, writing above the quote, with a signature.
	r.mustSend(&testMail{
		from: bob, fromName: "Bob Axe", to: []string{bobTag}, subject: "Re: " + handoff.msg.Subject,
		msgid: "bob-1@axe.test", inReplyTo: handoff.msg.MessageID, references: handoff.msg.References,
		body: "Clause 4 reworded, see the changes.\nThe rest is fine.\n\n-- \nBob Axe, AXE Legal\n\n" +
			"On Mon, Nov 2, 2026 at 10:00 AM Alice Acme (via turnmail) <collab@gw.test> wrote:\n> Your turn on the contract\n> Turn 1 by Alice",
		files: []testFile{{"contract v2 - AXE.docx", v2}},
	}, bobTag)

	vs := r.versions(c.ID, "contract.docx")
	if len(vs) != 2 || vs[1].Number != 2 || vs[1].Turn != 2 || vs[1].Filename != "contract v2 - AXE.docx" || !bytes.Equal(r.blob(vs[1].Blob.Digest), v2) {
		t.Fatalf("versions after Bob's reply: %+v", vs)
	}
	turns := r.turns(c.ID)
	if len(turns) != 2 || turns[1].Note != "Clause 4 reworded, see the changes.\nThe rest is fine." {
		t.Fatalf("turn 2 note %q", turns[len(turns)-1].Note)
	}
	if !strings.Contains(turns[1].Stripped, "Alice Acme (via turnmail)") {
		t.Errorf("the stripped quote is not kept: %q", turns[1].Stripped)
	}
	mails := r.newMail()
	h := to(t, mails, alice)
	if h.kind != "handoff" {
		t.Fatalf("alice got %s", h.kind)
	}
	if !bytes.Equal(h.atts["contract (v2).docx"], v2) || len(h.atts) != 1 {
		t.Errorf("alice's handoff attachments %v", keys(h.atts))
	}
	for _, want := range []string{
		"Clause 4 reworded, see the changes.", "contract.docx: v1 (29.3 KB) → v2 (30.3 KB)",
		"Turn 1 · ACME · Alice Acme", "Turn 2 · AXE · Bob Axe", "Bob, here is our draft.",
	} {
		if !strings.Contains(h.msg.Text, want) {
			t.Errorf("handoff text lacks %q:\n%s", want, h.msg.Text)
		}
	}
	// Threading: below the root and the last gateway mail Alice got, never
	// naming mail of the other side's she did not see.
	if refs := h.msg.References; len(refs) != 3 || refs[0] != "start-1@acme.test" || refs[1] != aliceConfirm || !strings.HasPrefix(refs[2], "reply."+c.ID+".") {
		t.Errorf("handoff References %v, want the root, Alice's confirmation and her reply token", refs)
	}
	if len(h.msg.InReplyTo) != 1 || h.msg.InReplyTo[0] != aliceConfirm {
		t.Errorf("handoff In-Reply-To %v, want Alice's confirmation", h.msg.InReplyTo)
	}
	if strings.Contains(h.msg.Text, "AXE Legal") {
		t.Error("Bob's signature reached the note")
	}
	if !strings.Contains(h.msg.HTML, "Clause 4 reworded") || !strings.Contains(h.msg.HTML, "<table") {
		t.Error("the HTML part does not carry the note and tables")
	}
	if to(t, mails, carol).kind != "handoff" || to(t, mails, bob).kind != "confirm" || to(t, mails, dave).kind != "confirm" {
		t.Errorf("mails after turn 2: %s", describe(mails))
	}

	// Alice: Reply-All to Bob's own mail (which she got directly), the gateway
	// in Cc, no tag: matched through In-Reply-To, and applied because the MTA
	// in front vouches for her From.
	r.mustSend(&testMail{
		from: alice, to: []string{bob}, cc: []string{gw}, subject: "Re: Services contract", extra: []string{dmarcPass("acme.test")},
		msgid: "alice-2@acme.test", inReplyTo: "bob-1@axe.test", references: []string{"start-1@acme.test", "bob-1@axe.test"},
		body:  "Accepted clause 4, changed clause 7.\n\n> Clause 4 reworded",
		files: []testFile{{"Contract_v3.docx", v3}},
	}, gw)
	if vs := r.versions(c.ID, "contract.docx"); len(vs) != 3 || !bytes.Equal(r.blob(vs[2].Blob.Digest), v3) {
		t.Fatalf("want v3 through In-Reply-To, got %d versions", len(vs))
	}
	if c := r.collab(); c.Turn != 4 || c.TurnParty != 1 {
		t.Errorf("after turn 3: turn %d party %d", c.Turn, c.TurnParty)
	}
	h = to(t, r.newMail(), bob)
	if !bytes.Equal(h.atts["contract (v3).docx"], v3) || !strings.Contains(h.msg.Text, "Turn 3 · ACME") {
		t.Errorf("bob's second handoff: %v\n%s", keys(h.atts), h.msg.Text)
	}
}

// TestReplyAllThroughTag: Reply-All to a handoff reaches the gateway via the
// tagged address in Cc while also going straight to the other people.
func TestReplyAllThroughTag(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 1000))
	h := to(t, r.newMail(), bob)
	tag := h.msg.ReplyTo[0].Addr
	r.mustSend(&testMail{
		from: bob, to: []string{alice}, cc: []string{tag, dave}, subject: "Re: " + h.msg.Subject, msgid: "ra@axe.test",
		body: "Edited.", files: []testFile{{"contract.docx", fileData(2, 1000)}},
	}, tag)
	if got := len(r.versions(c.ID, "contract.docx")); got != 2 {
		t.Fatalf("%d versions, want 2", got)
	}
	if got := r.collab(); got.Turn != 3 {
		t.Errorf("turn %d, want 3", got.Turn)
	}

	// Alice's Reply-All to that lists Bob's tagged address before her own:
	// her own address names her.
	tags := tagsOf(t, r.newMail())
	r.mustSend(&testMail{
		from: alice, to: []string{tag, tags[alice]}, subject: "Re: x", msgid: "ra2@acme.test",
		body: "Back to you.", files: []testFile{{"contract.docx", fileData(3, 1000)}},
	}, tag, tags[alice])
	if got := len(r.versions(c.ID, "contract.docx")); got != 3 {
		t.Fatalf("%d versions, want 3: Alice's mail was not taken as hers", got)
	}
}

// TestDraftsTravelWithTheTurn: DESIGN §2.4. A contributor's file during the
// party's turn is a draft, shown to the party's leaders only, and goes over
// with the turn when a leader ends it; the leader's own file wins.
func TestDraftsTravelWithTheTurn(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 5000))
	tags := tagsOf(t, r.newMail())

	annex := fileData(10, 4000)
	r.mustSend(&testMail{from: dave, to: []string{tags[dave]}, subject: "Re: x", msgid: "dave-1@axe.test",
		body: "My pass at the annex.", files: []testFile{{"annex.pdf", annex}, {"contract - dave.docx", fileData(11, 5000)}}}, tags[dave])
	if got := r.collab(); got.Turn != 2 {
		t.Fatalf("a contributor's file moved the turn to %d", got.Turn)
	}
	mails := r.newMail()
	if got := recipients(mails); !slices.Equal(sorted(got), []string{bob, dave}) {
		t.Fatalf("draft mail went to %v: it must stay inside AXE", got)
	}
	if m := to(t, mails, bob); m.kind != "draft" || !bytes.Equal(m.atts["annex.pdf"], annex) {
		t.Errorf("bob got %s with %v", m.kind, keys(m.atts))
	}
	if m := to(t, mails, dave); m.kind != "confirm" || !strings.Contains(m.msg.Text, "draft") {
		t.Errorf("dave was not told: %s %q", m.kind, m.msg.Text)
	}

	// Bob ends the turn with his own contract: his wins, Dave's annex travels.
	bobContract := fileData(12, 5000)
	r.mustSend(&testMail{from: bob, to: []string{tags[bob]}, subject: "Re: x", msgid: "bob-1@axe.test",
		body: "Our changes, with Dave's annex.", files: []testFile{{"contract.docx", bobContract}}}, tags[bob])
	if vs := r.versions(c.ID, "contract.docx"); len(vs) != 2 || !bytes.Equal(r.blob(vs[1].Blob.Digest), bobContract) {
		t.Fatalf("contract versions: %d, the leader's file must win", len(vs))
	}
	av := r.versions(c.ID, "annex.pdf")
	if len(av) != 1 || av[0].Turn != 2 || !bytes.Equal(r.blob(av[0].Blob.Digest), annex) {
		t.Fatalf("annex versions %+v", av)
	}
	h := to(t, r.newMail(), alice)
	if len(h.atts) != 2 || !bytes.Equal(h.atts["annex (v1).pdf"], annex) {
		t.Errorf("alice's handoff attachments %v", keys(h.atts))
	}
	var drafts []*store.Draft
	r.st.View(func(tx *store.Tx) (err error) { drafts, err = tx.Drafts(c.ID, 1); return })
	if len(drafts) != 0 {
		t.Errorf("%d drafts left after the turn ended", len(drafts))
	}
}

// TestOutOfTurn: DESIGN §2.5, both policies.
func TestOutOfTurn(t *testing.T) {
	for _, policy := range []string{"accept", "reject"} {
		t.Run(policy, func(t *testing.T) {
			r := newRig(t, rigOptions{outOfTurn: policy})
			c := r.start(fileData(1, 5000))
			tags := tagsOf(t, r.newMail())
			r.mustSend(&testMail{from: alice, to: []string{tags[alice]}, subject: "Re: x", msgid: "a-oot@acme.test",
				body: "One more fix.", files: []testFile{{"contract.docx", fileData(2, 5000)}}}, tags[alice])
			if got := r.collab(); got.Turn != 2 || got.TurnParty != 1 {
				t.Fatalf("out-of-turn file moved the turn: %d/%d", got.Turn, got.TurnParty)
			}
			if n := len(r.versions(c.ID, "contract.docx")); n != 1 {
				t.Fatalf("out-of-turn file made a version (%d)", n)
			}
			var drafts []*store.Draft
			r.st.View(func(tx *store.Tx) (err error) { drafts, err = tx.Drafts(c.ID, 0); return })
			mails := r.newMail()
			m := to(t, mails, alice)
			if policy == "accept" {
				if len(drafts) != 1 || !strings.Contains(m.msg.Text, "AXE's turn") {
					t.Errorf("accept: %d drafts, alice told %q", len(drafts), m.msg.Text)
				}
			} else {
				if len(drafts) != 0 || !strings.Contains(m.msg.Text, "not stored") {
					t.Errorf("reject: %d drafts, alice told %q", len(drafts), m.msg.Text)
				}
			}
			if len(mails) != 1 {
				t.Errorf("mails %s: only the sender hears of it", describe(mails))
			}
		})
	}
}

// TestCommentsStayInsideTheParty: a reply without files is relayed to the
// sender's party only.
func TestCommentsStayInsideTheParty(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.start(fileData(1, 5000))
	tags := tagsOf(t, r.newMail())
	r.mustSend(&testMail{from: dave, to: []string{tags[dave]}, subject: "Re: x", msgid: "d-c@axe.test",
		body: "Bob, clause 9 worries me.\n\nOn Monday, Alice wrote:\n> draft"}, tags[dave])
	mails := r.newMail()
	if len(mails) != 1 {
		t.Fatalf("comment mails %s, want one to bob", describe(mails))
	}
	m := to(t, mails, bob)
	if m.kind != "comment" || !strings.Contains(m.msg.Text, "clause 9 worries me") || strings.Contains(m.msg.Text, "> draft") {
		t.Errorf("comment: %s %q", m.kind, m.msg.Text)
	}
	if got := r.collab(); got.Turn != 2 {
		t.Errorf("a comment moved the turn")
	}
}

func TestCommands(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 5000))
	tags := tagsOf(t, r.newMail())
	n := 0
	send := func(from, body string) []*sent {
		t.Helper()
		n++
		r.mustSend(&testMail{from: from, to: []string{tags[from]}, subject: "Re: x", body: body,
			msgid: fmt.Sprintf("cmd-%d@test", n)}, tags[from])
		return r.newMail()
	}

	m := to(t, send(bob, "/status"), bob)
	for _, want := range []string{"turn 2 is with AXE", "contract.docx: v1", "Party ACME", "carol@acme.test"} {
		if !strings.Contains(m.msg.Text, want) {
			t.Errorf("/status lacks %q:\n%s", want, m.msg.Text)
		}
	}
	if m := to(t, send(dave, "/help"), dave); !strings.Contains(m.msg.Text, "/wrapup") {
		t.Errorf("/help: %q", m.msg.Text)
	}
	if m := to(t, send(bob, "/frobnicate"), bob); !strings.Contains(m.msg.Text, "/frobnicate") || !strings.Contains(m.msg.Text, "/done") {
		t.Errorf("unknown command answer: %q", m.msg.Text)
	}
	if m := to(t, send(dave, "/done"), dave); !strings.Contains(m.msg.Text, "only a leader") {
		t.Errorf("contributor /done: %q", m.msg.Text)
	}
	if got := r.collab(); got.Turn != 2 {
		t.Fatal("a refused /done moved the turn")
	}

	mails := send(bob, "/done\nNothing to add this round.")
	if got := r.collab(); got.Turn != 3 || got.TurnParty != 0 {
		t.Fatalf("/done: turn %d party %d", got.Turn, got.TurnParty)
	}
	if h := to(t, mails, alice); h.kind != "handoff" || !strings.Contains(h.msg.Text, "Nothing to add this round.") || len(h.atts) != 0 {
		t.Errorf("/done handoff: %s %v %q", h.kind, keys(h.atts), h.msg.Text)
	}
	send(alice, "/skip")
	if got := r.collab(); got.Turn != 4 || r.turns(c.ID)[2].How != "skip" {
		t.Fatalf("/skip: turn %d", got.Turn)
	}

	if m := to(t, send(bob, "/wrapup"), bob); !strings.Contains(m.msg.Text, "only the owner") {
		t.Errorf("non-owner /wrapup: %q", m.msg.Text)
	}
	mails = send(alice, "/wrapup")
	if got := r.collab(); got.State != store.StateWrapped {
		t.Fatalf("state %s after /wrapup", got.State)
	}
	if len(mails) != 4 {
		t.Fatalf("binder went to %s, want all four", describe(mails))
	}
	for _, m := range mails {
		if m.kind != "binder" || len(m.atts) != 1 || !strings.Contains(m.msg.Text, "Turn 3 · ACME") {
			t.Errorf("binder to %s: %s %v", m.out.Msg.To.Addr, m.kind, keys(m.atts))
		}
	}
	r.mustSend(&testMail{from: bob, to: []string{tags[bob]}, subject: "Re: x", msgid: "late@axe.test",
		body: "late", files: []testFile{{"contract.docx", fileData(9, 100)}}}, tags[bob])
	if n := len(r.versions(c.ID, "contract.docx")); n != 1 {
		t.Errorf("a wrapped collaboration took a version")
	}
	if m := to(t, r.newMail(), bob); !strings.Contains(m.msg.Text, "wrapped up") {
		t.Errorf("late file after wrap-up: %q", m.msg.Text)
	}
}

// tagsOf maps each recipient to their tagged Reply-To address.
func tagsOf(t testing.TB, mails []*sent) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, s := range mails {
		if len(s.msg.ReplyTo) == 1 {
			m[s.out.Msg.To.Addr] = s.msg.ReplyTo[0].Addr
		}
	}
	return m
}

func keys(m map[string][]byte) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	return sorted(k)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestLeaderWinsOverNewDocumentDraft: a contributor drafts a document that
// does not exist yet; the leader then sends their own file of that name.
// The leader's is the version.
func TestLeaderWinsOverNewDocumentDraft(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 500))
	tags := tagsOf(t, r.newMail())
	r.mustSend(&testMail{from: dave, to: []string{tags[dave]}, subject: "Re: x", msgid: "d@axe.test",
		files: []testFile{{"annex.pdf", []byte("dave's annex")}}}, tags[dave])
	r.mustSend(&testMail{from: bob, to: []string{tags[bob]}, subject: "Re: x", msgid: "b@axe.test", body: "Annex added.",
		files: []testFile{{"Annex - AXE.pdf", []byte("bob's annex")}}}, tags[bob])
	vs := r.versions(c.ID, "Annex - AXE.pdf")
	if len(vs) != 1 || string(r.blob(vs[0].Blob.Digest)) != "bob's annex" {
		t.Fatalf("annex versions %+v", vs)
	}
	h := to(t, r.newMail()[2:], alice)
	if len(h.atts) != 1 || string(h.atts["Annex - AXE (v1).pdf"]) != "bob's annex" {
		t.Errorf("alice's handoff attachments %v", keys(h.atts))
	}
}

// TestTwoFilesForOneDocument: a clean copy and a redline of the same
// document in one mail make one version and one document of its own, not
// two versions in a row.
func TestTwoFilesForOneDocument(t *testing.T) {
	r := newRig(t, rigOptions{})
	c := r.start([]byte("v1"))
	tags := tagsOf(t, r.newMail())
	r.mustSend(&testMail{from: bob, to: []string{tags[bob]}, subject: "Re: x", msgid: "two@axe.test", body: "Clean and redline.",
		files: []testFile{{"contract clean.docx", []byte("clean")}, {"contract redline.docx", []byte("redline")}, {"contract redline.docx", []byte("again")}}}, tags[bob])
	if vs := r.versions(c.ID, "contract.docx"); len(vs) != 2 || string(r.blob(vs[1].Blob.Digest)) != "clean" {
		t.Errorf("contract.docx versions: %d", len(vs))
	}
	if vs := r.versions(c.ID, "contract redline.docx"); len(vs) != 1 || string(r.blob(vs[0].Blob.Digest)) != "redline" {
		t.Errorf("contract redline.docx versions: %d", len(vs))
	}
	m := to(t, r.newMail(), bob)
	for _, want := range []string{"kept as a document of its own", "same name: this one was not stored"} {
		if !strings.Contains(m.msg.Text, want) {
			t.Errorf("bob's confirmation lacks %q:\n%s", want, m.msg.Text)
		}
	}
}
