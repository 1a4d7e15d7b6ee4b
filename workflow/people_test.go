package workflow_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/turnmail/turnmail/store"
)

// people maps each participant's address to "PARTY/role", "pending/role"
// or "removed".
func (r *rig) people(c *store.Collab) map[string]string {
	r.t.Helper()
	var ps []*store.Participant
	if err := r.st.View(func(tx *store.Tx) (err error) { ps, err = tx.Participants(c.ID); return err }); err != nil {
		r.t.Fatal(err)
	}
	m := map[string]string{}
	for _, p := range ps {
		switch {
		case !p.Removed.IsZero():
			m[p.Address] = "removed"
		case p.Pending:
			m[p.Address] = "pending/" + p.Role
		default:
			m[p.Address] = c.Parties[p.Party].Name + "/" + p.Role
		}
	}
	return m
}

// startPeople is the start of every people test: Alice (ACME, owner), Carol
// (ACME, contributor), Bob (AXE, leader), Dave (AXE, contributor).
var startPeople = map[string]string{alice: "ACME/leader", carol: "ACME/contributor", bob: "AXE/leader", dave: "AXE/contributor"}

// TestPeopleCommands: /add, /remove, /move and /role, as DESIGN §2.6 and the
// rules of people.go have them: who may do what, what is refused and why,
// and who hears of it.
func TestPeopleCommands(t *testing.T) {
	const (
		frank = "frank@axe.test"
		gina  = "gina@axe.test"
		eve   = "eve@lawfirm.test"
		zed   = "zed@acme.test"
	)
	for _, tc := range []struct {
		name, from, body string
		answer           string            // in the sender's answer
		changed          map[string]string // over startPeople
		told             []string          // who else gets mail, besides the sender
		check            func(t *testing.T, mails []*sent)
	}{{
		name: "leader adds a contributor to own party", from: bob, body: "/add frank@axe.test",
		answer: "Bob Axe added frank@axe.test to AXE as a contributor.", changed: map[string]string{frank: "AXE/contributor"},
		told: []string{frank, dave, alice, carol},
		check: func(t *testing.T, mails []*sent) {
			w := to(t, mails, frank)
			tag := w.msg.ReplyTo[0].Addr
			for _, want := range []string{"Bob Axe added you to “Services contract” as a contributor of AXE.", "As a contributor", "Your own reply address for this collaboration is " + tag, "contract.docx: v1", "/add ADDRESS"} {
				if !strings.Contains(w.msg.Text, want) {
					t.Errorf("welcome lacks %q:\n%s", want, w.msg.Text)
				}
			}
			if !strings.Contains(to(t, mails, alice).msg.Text, "Bob Axe added frank@axe.test to AXE") {
				t.Errorf("alice was not told: %s", to(t, mails, alice).msg.Text)
			}
		},
	}, {
		name: "a ghost is not announced to the other party", from: bob, body: "/add gina@axe.test ghost",
		answer: "added gina@axe.test to AXE as a ghost", changed: map[string]string{gina: "AXE/ghost"},
		told: []string{gina, dave},
		check: func(t *testing.T, mails []*sent) {
			if w := to(t, mails, gina); !strings.Contains(w.msg.Text, "the other party is never shown your name") {
				t.Errorf("ghost's welcome:\n%s", w.msg.Text)
			}
		},
	}, {
		name: "party names match in any case, role and party in any order", from: alice, body: "/add eve@lawfirm.test acme follower",
		answer: "added eve@lawfirm.test to ACME as a follower", changed: map[string]string{eve: "ACME/follower"},
		told: []string{eve, carol, bob, dave},
	}, {
		name: "the owner adds to the other party", from: alice, body: "/add zed@acme.test AXE leader",
		answer: "added zed@acme.test to AXE as a leader", changed: map[string]string{zed: "AXE/leader"},
		told: []string{zed, carol, bob, dave},
	}, {
		name: "a leader adds to own party only", from: bob, body: "/add zed@acme.test ACME",
		answer: "a leader changes the people of their own party (AXE) only",
	}, {
		name: "a contributor cannot add", from: dave, body: "/add frank@axe.test",
		answer: "only a leader can change who takes part",
	}, {
		name: "someone in already", from: bob, body: "/add Dave@axe.test follower",
		answer: "dave@axe.test is in AXE already, as a contributor: use /move or /role",
	}, {
		name: "not an address", from: bob, body: "/add frank",
		answer: "that is not a mail address",
	}, {
		name: "the gateway's own address", from: bob, body: "/add collab@gw.test",
		answer: "an address of the gateway itself",
	}, {
		name: "neither role nor party", from: bob, body: "/add frank@axe.test boss",
		answer: `"boss" is neither a role (leader, contributor, follower, ghost) nor a party (ACME, AXE)`,
	}, {
		name: "leader removes one of own party", from: bob, body: "/remove dave@axe.test",
		answer: "Bob Axe removed dave@axe.test (AXE) from the collaboration.", changed: map[string]string{dave: "removed"},
		told: []string{dave, alice, carol},
		check: func(t *testing.T, mails []*sent) {
			if m := to(t, mails, dave); !strings.Contains(m.msg.Text, "Bob Axe removed you from “Services contract”.") || !strings.Contains(m.msg.Text, "no more mail") {
				t.Errorf("dave's mail:\n%s", m.msg.Text)
			}
		},
	}, {
		name: "the owner stays", from: bob, body: "/remove alice@acme.test",
		answer: "the owner stays in the collaboration",
	}, {
		name: "a leader removes from own party only", from: bob, body: "/remove carol@acme.test",
		answer: "own party (AXE) only; the owner (Alice Acme) can do it for either party",
	}, {
		name: "a party keeps a leader", from: bob, body: "/remove bob@axe.test",
		answer: "bob@axe.test is the only leader of AXE",
	}, {
		name: "not in it", from: bob, body: "/remove nobody@axe.test",
		answer: "nobody@axe.test does not take part",
	}, {
		name: "the owner removes anyone", from: alice, body: "/remove dave@axe.test",
		answer: "Alice Acme removed dave@axe.test (AXE)", changed: map[string]string{dave: "removed"},
		told: []string{dave, carol, bob},
	}, {
		name: "a leader moves nobody into the other party", from: bob, body: "/move dave@axe.test ACME",
		answer: "own party (AXE) only",
	}, {
		name: "the owner moves anyone", from: alice, body: "/move dave@axe.test acme",
		answer: "Alice Acme moved dave@axe.test from AXE to ACME, as a contributor.", changed: map[string]string{dave: "ACME/contributor"},
		told: []string{dave, carol, bob},
		check: func(t *testing.T, mails []*sent) {
			if m := to(t, mails, dave); !strings.Contains(m.msg.Text, "placed you in ACME") {
				t.Errorf("dave's mail:\n%s", m.msg.Text)
			}
		},
	}, {
		name: "no such party", from: alice, body: "/move dave@axe.test Globex",
		answer: `there is no party "Globex": the parties are ACME and AXE`,
	}, {
		name: "already there", from: alice, body: "/move dave@axe.test AXE",
		answer: "dave@axe.test is in AXE already",
	}, {
		name: "role changes stay inside the party", from: bob, body: "/role dave@axe.test LEADER",
		answer: "Bob Axe made dave@axe.test a leader of AXE (was a contributor).", changed: map[string]string{dave: "AXE/leader"},
		told: []string{dave},
		check: func(t *testing.T, mails []*sent) {
			if m := to(t, mails, dave); !strings.Contains(m.msg.Text, "As a leader you end your party's turns") {
				t.Errorf("dave's mail:\n%s", m.msg.Text)
			}
		},
	}, {
		name: "the last leader cannot step down", from: bob, body: "/role bob@axe.test follower",
		answer: "bob@axe.test is the only leader of AXE",
	}, {
		name: "a new leader first, then the old one steps down", from: bob, body: "/role dave@axe.test leader\n/role bob@axe.test contributor",
		answer: "Bob Axe made you a contributor of AXE on “Services contract” (you were a leader).", changed: map[string]string{dave: "AXE/leader", bob: "AXE/contributor"},
		told: []string{dave},
	}, {
		name: "a leader sets roles in own party only", from: bob, body: "/role carol@acme.test follower",
		answer: "own party (AXE) only",
	}, {
		name: "the owner stays a leader", from: alice, body: "/role alice@acme.test follower",
		answer: "the owner stays in the collaboration, in their party, as a leader",
	}, {
		name: "unknown role", from: bob, body: "/role dave@axe.test boss",
		answer: "write /role ADDRESS ROLE",
	}, {
		name: "same role", from: bob, body: "/role dave@axe.test contributor",
		answer: "dave@axe.test is a contributor already",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			c := r.start(fileData(1, 2000))
			tags := tagsOf(t, r.newMail())
			r.mustSend(&testMail{from: tc.from, to: []string{tags[tc.from]}, subject: "Re: Services contract", msgid: "people@test",
				body: tc.body}, tags[tc.from])
			mails := r.newMail()
			if a := to(t, mails, tc.from); !strings.Contains(a.msg.Text, tc.answer) {
				t.Errorf("%s's answer lacks %q:\n%s", tc.from, tc.answer, a.msg.Text)
			}
			want := maps.Clone(startPeople)
			maps.Copy(want, tc.changed)
			if got := r.people(c); !maps.Equal(got, want) {
				t.Errorf("people %v, want %v", got, want)
			}
			got := sorted(recipients(mails))
			if w := sorted(append([]string{tc.from}, tc.told...)); strings.Join(got, " ") != strings.Join(w, " ") {
				t.Errorf("mail went to %v, want %v", got, w)
			}
			if tc.check != nil {
				tc.check(t, mails)
			}
		})
	}
}

// TestRemovedAndBack: someone removed changes nothing and hears nothing,
// not even a weekly summary; added again, their old reply address works
// again.
func TestRemovedAndBack(t *testing.T) {
	r := newRig(t, rigOptions{summary: weekly})
	c := r.start(fileData(1, 2000))
	tags := tagsOf(t, r.newMail())
	n := 0
	send := func(from, body string, files ...testFile) []*sent {
		t.Helper()
		n++
		r.mustSend(&testMail{from: from, to: []string{tags[from]}, subject: "Re: Services contract", msgid: fmt.Sprintf("rb-%d@test", n),
			body: body, files: files}, tags[from])
		return r.newMail()
	}
	send(dave, "My annex.", testFile{"annex.docx", fileData(3, 500)})
	if m := to(t, send(bob, "/remove dave@axe.test"), dave); strings.Contains(m.msg.Text, "Drafts of") {
		t.Errorf("the removed person's last mail lists the party's drafts:\n%s", m.msg.Text)
	}
	if mails := send(dave, "My edit.", testFile{"contract.docx", fileData(2, 2000)}); len(mails) != 0 {
		t.Errorf("a removed person's mail was answered: %s", describe(mails))
	}
	if ins := r.inbound(); ins[len(ins)-1].Outcome != store.OutcomeStranger {
		t.Errorf("a removed person's mail: outcome %s", ins[len(ins)-1].Outcome)
	}
	if mails := send(bob, "Only us now.\n"); strings.Join(recipients(mails), " ") != "" {
		t.Errorf("bob's comment went to %s, and nobody else is left in AXE", describe(mails))
	}
	r.tick(monday(1))
	if got, want := sorted(recipients(r.newMail())), sorted([]string{alice, carol, bob}); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("weekly summaries went to %v, want %v", got, want)
	}
	mails := send(bob, "/add dave@axe.test follower")
	if w := to(t, mails, dave); w.msg.ReplyTo[0].Addr != tags[dave] {
		t.Errorf("dave came back with reply address %s, had %s", w.msg.ReplyTo[0].Addr, tags[dave])
	}
	if got := r.people(c)[dave]; got != "AXE/follower" {
		t.Errorf("dave is %s", got)
	}
	if mails := send(dave, "/status"); !strings.Contains(to(t, mails, dave).msg.Text, "dave@axe.test, follower") {
		t.Errorf("dave's status:\n%s", to(t, mails, dave).msg.Text)
	}
}

// TestOutsideCounsel is issue 9's case: Alice (ACME) writes to Bob (AXE)
// and Cc's her counsel Eve, of a third domain. Eve is in neither party's
// private circle until a leader places her: AXE's "INTERNAL" comment never
// reaches her; placed in ACME by Alice, she gets ACME's mail, never AXE's.
func TestOutsideCounsel(t *testing.T) {
	const eve = "eve@lawfirm.test"
	r := newRig(t, rigOptions{})
	r.mustSend(&testMail{
		from: alice, fromName: "Alice Acme", to: []string{"Bob Axe <" + bob + ">"}, cc: []string{dave, "Eve Law <" + eve + ">", gw},
		subject: "Services contract", msgid: "start-eve@acme.test", body: "Bob, here is our draft.",
		files: []testFile{{"contract.docx", fileData(1, 3000)}},
	}, gw)
	c := r.collab()
	if got, want := r.people(c), map[string]string{alice: "ACME/leader", bob: "AXE/leader", dave: "AXE/contributor", eve: "pending/contributor"}; !maps.Equal(got, want) {
		t.Fatalf("people %v, want %v", got, want)
	}
	mails := r.newMail()
	tags := tagsOf(t, mails)
	e := to(t, mails, eve)
	if len(e.atts) != 0 || !strings.Contains(e.msg.Text, "You are in “Services contract”, started by Alice Acme, but not yet in a party.") {
		t.Errorf("eve's one mail (%s, %v):\n%s", e.kind, keys(e.atts), e.msg.Text)
	}
	a := to(t, mails, alice)
	text := strings.ReplaceAll(a.msg.Text, "\r\n", "\n")
	for _, want := range []string{
		"Party ACME:\n  Alice Acme <alice@acme.test>, leader",
		"Party AXE:\n  Bob Axe <bob@axe.test>, leader\n  dave@axe.test, contributor",
		"Eve Law <eve@lawfirm.test>, contributor",
		"reply with this line: /move eve@lawfirm.test ACME",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("alice's confirmation lacks %q:\n%s", want, text)
		}
	}

	n := 0
	send := func(from, body string, files ...testFile) []*sent {
		t.Helper()
		n++
		r.mustSend(&testMail{from: from, to: []string{tags[from]}, subject: "Re: Services contract", msgid: fmt.Sprintf("eve-%d@test", n),
			body: body, files: files}, tags[from])
		return r.newMail()
	}
	var eveGot []*sent
	keep := func(mails []*sent) []*sent {
		for _, m := range mails {
			if m.out.Msg.To.Addr == eve {
				eveGot = append(eveGot, m)
			}
		}
		return mails
	}

	if got := recipients(keep(send(dave, "INTERNAL: our walk-away price is 4.2m"))); strings.Join(got, " ") != bob {
		t.Errorf("dave's comment went to %v, want bob alone", got)
	}
	// Eve's own mail changes nothing, and she is told why (once a day).
	mails = keep(send(eve, "My markup.", testFile{"contract.docx", fileData(2, 3000)}))
	if m := to(t, mails, eve); len(mails) != 1 || !strings.Contains(m.msg.Text, "changed nothing: you are not yet in a party") {
		t.Errorf("eve's answer %s:\n%s", describe(mails), m.msg.Text)
	}
	if len(r.versions(c.ID, "contract.docx")) != 1 || r.collab().Turn != 2 {
		t.Error("a pending person's file was applied")
	}
	if mails := keep(send(eve, "/status")); len(mails) != 0 {
		t.Errorf("eve answered twice in a day: %s", describe(mails))
	}

	// Alice places her in ACME.
	mails = keep(send(alice, "/move eve@lawfirm.test ACME"))
	if got := r.people(c)[eve]; got != "ACME/contributor" {
		t.Fatalf("eve is %s after /move", got)
	}
	if m := to(t, mails, eve); !strings.Contains(m.msg.Text, "Alice Acme placed you in ACME on “Services contract”, as a contributor") {
		t.Errorf("eve's welcome:\n%s", m.msg.Text)
	}
	if m := to(t, mails, bob); !strings.Contains(m.msg.Text, "placed Eve Law <eve@lawfirm.test> in ACME") {
		t.Errorf("bob was not told:\n%s", m.msg.Text)
	}

	// From now on she is ACME: AXE's internal mail never, its handoffs yes.
	keep(send(dave, "INTERNAL: we could even go to 4.0m"))
	mails = keep(send(bob, "Our markup, clause 4.", testFile{"contract.docx", fileData(3, 3000)}))
	if h := to(t, mails, eve); h.kind != "handoff" || len(h.atts) != 1 {
		t.Errorf("eve got %s with %v, want ACME's handoff", h.kind, keys(h.atts))
	}
	mails = keep(send(alice, "Eve, can we accept clause 4?"))
	if m := to(t, mails, eve); m.kind != "comment" || !strings.Contains(m.msg.Text, "can we accept clause 4?") {
		t.Errorf("eve did not get ACME's comment: %s", m.kind)
	}
	if m := keep(send(eve, "Yes, with the cap.")); strings.Join(recipients(m), " ") != alice {
		t.Errorf("eve's comment went to %v, want alice alone", recipients(m))
	}
	for _, m := range eveGot {
		if all := m.msg.Subject + m.msg.Text + m.msg.HTML; strings.Contains(all, "INTERNAL") || strings.Contains(all, "walk-away") {
			t.Errorf("AXE's internal mail reached eve (%s):\n%s", m.kind, m.msg.Text)
		}
	}
}

// TestPlacingPeople: who may place, or remove, someone not yet in a party.
func TestPlacingPeople(t *testing.T) {
	const eve = "eve@lawfirm.test"
	for _, tc := range []struct {
		name, from, body, answer, eveIs string
	}{
		{"a leader places them in own party", bob, "/move eve@lawfirm.test axe", "bob@axe.test placed eve@lawfirm.test in AXE, as a contributor.", "AXE/contributor"},
		{"a leader places them in own party only", bob, "/move eve@lawfirm.test ACME", "own party (AXE) only", "pending/contributor"},
		{"a contributor does not place", dave, "/move eve@lawfirm.test AXE", "only a leader can change who takes part", "pending/contributor"},
		{"only the owner removes them", bob, "/remove eve@lawfirm.test", "only the owner can remove someone who is not yet in a party", "pending/contributor"},
		{"the owner removes them", alice, "/remove eve@lawfirm.test", "Alice Acme removed eve@lawfirm.test from the collaboration.", "removed"},
		{"the owner sets their role", alice, "/role eve@lawfirm.test ghost", "made eve@lawfirm.test a ghost", "pending/ghost"},
		{"adding them again", alice, "/add eve@lawfirm.test", "is in the collaboration already, not yet in a party: place them with /move eve@lawfirm.test PARTY", "pending/contributor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			r.mustSend(&testMail{
				from: alice, fromName: "Alice Acme", to: []string{bob}, cc: []string{dave, eve, gw},
				subject: "Services contract", msgid: "start-eve@acme.test", body: "Draft.",
				files: []testFile{{"contract.docx", fileData(1, 3000)}},
			}, gw)
			c := r.collab()
			tags := tagsOf(t, r.newMail())
			r.mustSend(&testMail{from: tc.from, to: []string{tags[tc.from]}, subject: "Re: x", msgid: "place@test", body: tc.body}, tags[tc.from])
			if m := to(t, r.newMail(), tc.from); !strings.Contains(m.msg.Text, tc.answer) {
				t.Errorf("answer lacks %q:\n%s", tc.answer, m.msg.Text)
			}
			if got := r.people(c)[eve]; got != tc.eveIs {
				t.Errorf("eve is %s, want %s", got, tc.eveIs)
			}
		})
	}
}

// TestGhostNeverNamed: a ghost is never named in mail to the other party:
// not when added, not in /status, not in the history of handoffs and
// statuses, not in the weekly summary, even for a turn they ended as a
// leader before they became a ghost.
func TestGhostNeverNamed(t *testing.T) {
	r := newRig(t, rigOptions{summary: weekly})
	r.start(fileData(1, 2000))
	tags := tagsOf(t, r.newMail())
	n := 0
	send := func(from, body string, files ...testFile) []*sent {
		t.Helper()
		n++
		r.mustSend(&testMail{from: from, to: []string{tags[from]}, subject: "Re: Services contract", msgid: fmt.Sprintf("ghost-%d@test", n),
			body: body, files: files}, tags[from])
		return r.newMail()
	}
	send(alice, "/add gina@acme.test ghost\n/role carol@acme.test leader")
	send(bob, "Our markup.", testFile{"contract.docx", fileData(2, 2000)})
	send(carol, "Clause 7 reworded.", testFile{"contract.docx", fileData(3, 2000)}) // turn 3, by Carol as a leader
	send(alice, "/role carol@acme.test ghost")

	// From here on, nothing AXE reads may name Carol or Gina.
	var axe []*sent
	for _, m := range slices.Concat(
		send(bob, "/status"),
		send(bob, "Back to you.", testFile{"contract.docx", fileData(4, 2000)}),
		send(alice, "/done\nFine by us."),
		send(dave, "/status"),
	) {
		if a := m.out.Msg.To.Addr; a == bob || a == dave {
			axe = append(axe, m)
		}
	}
	r.tick(monday(1))
	for _, m := range r.newMail() {
		if a := m.out.Msg.To.Addr; a == bob || a == dave {
			axe = append(axe, m)
		}
	}
	if len(axe) < 6 {
		t.Fatalf("AXE got %s: too little to tell", describe(axe))
	}
	kinds := map[string]bool{}
	for _, m := range axe {
		kinds[m.kind] = true
		all := strings.ToLower(m.msg.Subject + m.msg.Text + m.msg.HTML + m.out.Msg.From.Name)
		for _, ghost := range []string{"carol", "gina"} {
			if strings.Contains(all, ghost) {
				t.Errorf("%s's %s names %s:\n%s", m.out.Msg.To.Addr, m.kind, ghost, m.msg.Text)
			}
		}
		if m.kind != "summary" && !strings.Contains(m.msg.Text, "Turn 3 · ACME · someone of ACME") {
			t.Errorf("%s's %s history does not stand in for the ghost:\n%s", m.out.Msg.To.Addr, m.kind, m.msg.Text)
		}
	}
	for _, k := range []string{"reply", "handoff", "confirm", "summary"} {
		if !kinds[k] {
			t.Errorf("AXE got no %s (%v): the test does not look at it", k, kinds)
		}
	}
	// Their own party still sees them.
	if m := to(t, send(alice, "/status"), alice); !strings.Contains(m.msg.Text, "carol@acme.test, ghost") || !strings.Contains(m.msg.Text, "gina@acme.test, ghost") {
		t.Errorf("alice's status does not list ACME's ghosts:\n%s", m.msg.Text)
	}
}

// TestColleagueWrites: a colleague of AXE's people who is not in the
// collaboration replies with the signed file to Bob's reply address. Nothing
// is applied, and nobody answers Frank; Bob and AXE's leaders are told, with
// the line that adds him, once a day. A true stranger is told of to nobody.
func TestColleagueWrites(t *testing.T) {
	const frank = "frank@axe.test"
	r := newRig(t, rigOptions{})
	c := r.start(fileData(1, 2000))
	mails := r.newMail()
	tags := tagsOf(t, mails)
	r.mustSend(&testMail{from: bob, to: []string{tags[bob]}, subject: "Re: x", msgid: "lead@axe.test", body: "/role dave@axe.test leader"}, tags[bob])
	r.newMail()

	signed := &testMail{from: frank, fromName: "Frank Axe", to: []string{tags[bob]}, subject: "Re: " + to(t, mails, bob).msg.Subject, msgid: "frank-1@axe.test",
		body: "Signed on our side.", files: []testFile{{"contract signed.docx", fileData(2, 2000)}}}
	r.mustSend(signed, tags[bob])
	if vs := r.versions(c.ID, "contract.docx"); len(vs) != 1 || r.collab().Turn != 2 {
		t.Fatalf("a colleague's file was applied: %d versions, turn %d", len(vs), r.collab().Turn)
	}
	if in := r.inbound(); in[len(in)-1].Outcome != store.OutcomeStranger || !strings.Contains(in[len(in)-1].Detail, "colleague of AXE") {
		t.Errorf("inbound %s: %s", in[len(in)-1].Outcome, in[len(in)-1].Detail)
	}
	mails = r.newMail()
	if got := sorted(recipients(mails)); strings.Join(got, " ") != bob+" "+dave {
		t.Fatalf("mail went to %v, want bob and dave (AXE's leaders) alone", got)
	}
	for _, m := range mails {
		for _, want := range []string{"Frank Axe <frank@axe.test> wrote to “Services contract”, but does not take part in it", "They sent: contract signed.docx.", "reply with this line: /add frank@axe.test contributor"} {
			if !strings.Contains(m.msg.Text, want) {
				t.Errorf("%s's mail lacks %q:\n%s", m.out.Msg.To.Addr, want, m.msg.Text)
			}
		}
		if len(m.atts) != 0 {
			t.Errorf("a stranger's file went out to %s", m.out.Msg.To.Addr)
		}
	}

	// Again the same day: nobody is told twice.
	signed.msgid = "frank-2@axe.test"
	r.mustSend(signed, tags[bob])
	if mails := r.newMail(); len(mails) != 0 {
		t.Errorf("told again the same day: %s", describe(mails))
	}
	// A stranger of another domain: nobody hears of it.
	r.mustSend(&testMail{from: "mallory@evil.test", to: []string{tags[bob]}, subject: "Re: x", msgid: "m@evil.test", body: "Hi",
		files: []testFile{{"contract.docx", fileData(3, 2000)}}}, tags[bob])
	if mails := r.newMail(); len(mails) != 0 {
		t.Errorf("a stranger's mail was passed on: %s", describe(mails))
	}
	// The next day, by subject tag alone: told again.
	r.setClock(time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC))
	r.mustSend(&testMail{from: frank, to: []string{gw}, subject: "Re: Services contract [tm:" + c.ID + "]", msgid: "frank-3@axe.test", body: "Signed."}, gw)
	if got := sorted(recipients(r.newMail())); strings.Join(got, " ") != bob+" "+dave {
		t.Errorf("next day, mail went to %v", got)
	}

	// Bob adds him; now Frank's file is a draft of AXE.
	r.mustSend(&testMail{from: bob, to: []string{tags[bob]}, subject: "Re: x", msgid: "add-frank@axe.test", body: "/add frank@axe.test contributor"}, tags[bob])
	ftag := to(t, r.newMail(), frank).msg.ReplyTo[0].Addr
	signed.msgid, signed.to = "frank-4@axe.test", []string{ftag}
	r.mustSend(signed, ftag)
	if m := to(t, r.newMail(), frank); m.kind != "confirm" || !strings.Contains(m.msg.Text, "draft") {
		t.Errorf("frank's file after /add: %s\n%s", m.kind, m.msg.Text)
	}
}
