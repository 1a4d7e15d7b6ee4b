package workflow_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// docx builds a minimal Word document: one w:p per paragraph, as Word
// writes them (runs split mid-word), with tracked insertions and comments
// by the authors given.
func docx(t testing.TB, paras []string, insertedBy string, commentBy string) []byte {
	t.Helper()
	var body strings.Builder
	for i, p := range paras {
		half := len(p) / 2
		fmt.Fprintf(&body, `<w:p w:rsidR="00A1%02d"><w:r><w:t>%s</w:t></w:r><w:r><w:t xml:space="preserve">%s</w:t></w:r>`, i, p[:half], p[half:])
		if i == 0 && insertedBy != "" {
			fmt.Fprintf(&body, `<w:ins w:id="1" w:author="%s" w:date="2026-11-02T10:00:00Z"><w:r><w:t> (inserted)</w:t></w:r></w:ins>`, insertedBy)
		}
		if i == 0 && commentBy != "" {
			body.WriteString(`<w:commentRangeStart w:id="0"/><w:r><w:commentReference w:id="0"/></w:r>`)
		}
		body.WriteString(`</w:p>`)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	files := map[string]string{
		"[Content_Types].xml": `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`,
		"word/document.xml": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` +
			body.String() + `</w:body></w:document>`,
	}
	if commentBy != "" {
		files["word/comments.xml"] = `<?xml version="1.0" encoding="UTF-8"?><w:comments xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:comment w:id="0" w:author="` +
			commentBy + `"><w:p><w:r><w:t>Internal: our floor is 4.2m</w:t></w:r></w:p></w:comment></w:comments>`
	}
	for _, name := range []string{"[Content_Types].xml", "word/document.xml", "word/comments.xml"} {
		if files[name] == "" {
			continue
		}
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(files[name]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestHandoffSaysWhatChanged: the handoff says what changed in a docx
// against the version the receiving party had, in both parts, with the
// markup it carries; the party that sent it is warned that its own
// people's comments and tracked changes went along.
func TestHandoffSaysWhatChanged(t *testing.T) {
	r := newRig(t, rigOptions{})
	v1 := docx(t, []string{"The parties agree as follows.", "Clause 4: the price is 4.8m.", "Clause 5: delivery in May."}, "", "")
	r.mustSend(&testMail{
		from: alice, fromName: "Alice Acme", to: []string{"Bob Axe <" + bob + ">"}, cc: []string{carol, "Dave Axe <" + dave + ">", gw},
		subject: "Services contract", msgid: "start-docx@acme.test", body: "Bob, our draft.",
		files: []testFile{{"contract.docx", v1}, {"notes.txt", []byte("one\ntwo\nthree\n")}},
	}, gw)
	tags := tagsOf(t, r.newMail())

	v2 := docx(t, []string{"The parties agree as follows.", "Clause 4: the price is 4.5m.", "Clause 5: delivery in May.", "Clause 6: law of Austria."}, "Dave Axe", "Bob Axe")
	r.mustSend(&testMail{from: bob, fromName: "Bob Axe", to: []string{tags[bob]}, subject: "Re: Services contract", msgid: "bob-docx@axe.test",
		body:  "Our price.",
		files: []testFile{{"contract.docx", v2}, {"notes.txt", []byte("one\n2\nthree\n")}}}, tags[bob])
	mails := r.newMail()
	h := to(t, mails, alice)
	for _, want := range []string{
		"2 paragraphs changed, 1 added.",
		"¶ 2: “Clause 4: the price is 4.8m.” → “Clause 4: the price is 4.5m.”",
		"¶ 4 added: “Clause 6: law of Austria.”",
		"Still carries 1 tracked change and 1 comment (Bob Axe: 1 comment; Dave Axe: 1 tracked change).",
		"1 line changed.",
		"line 2: “two” → “2”",
	} {
		if !strings.Contains(h.msg.Text, want) {
			t.Errorf("alice's handoff text lacks %q:\n%s", want, h.msg.Text)
		}
	}
	for _, want := range []string{"2 paragraphs changed, 1 added.", "law of Austria", "line 2: “two” → “2”"} {
		if !strings.Contains(h.msg.HTML, want) {
			t.Errorf("alice's handoff HTML lacks %q", want)
		}
	}
	if strings.Contains(h.msg.Text, "Review marks") {
		t.Errorf("ACME is warned of AXE's marks:\n%s", h.msg.Text)
	}
	for _, addr := range []string{bob, dave} {
		m := to(t, mails, addr)
		if !strings.Contains(m.msg.Text, "Review marks that went to the other side") ||
			!strings.Contains(m.msg.Text, "contract.docx v2 still carries review marks of your party (Bob Axe: 1 comment; Dave Axe: 1 tracked change)") {
			t.Errorf("%s is not warned of AXE's own marks:\n%s", addr, m.msg.Text)
		}
	}
}

// TestCompareBeforeTransaction: a reply that ends a turn is compared with
// the version before it before its write transaction, and the handoff says
// what changed as before.
func TestCompareBeforeTransaction(t *testing.T) {
	r := newRig(t, rigOptions{})
	var made []int
	r.eng.AfterPrecompare(func(n int) { made = append(made, n) })
	v1 := docx(t, []string{"The parties agree.", "Price 4.8m.", "Delivery in May."}, "", "")
	r.mustSend(&testMail{from: alice, to: []string{bob}, cc: []string{gw}, subject: "Contract", msgid: "pre-start@acme.test",
		body: "Our draft.", files: []testFile{{"contract.docx", v1}}}, gw)
	tags := tagsOf(t, r.newMail())
	v2 := docx(t, []string{"The parties agree.", "Price 4.5m.", "Delivery in May."}, "", "")
	r.mustSend(&testMail{from: bob, to: []string{tags[bob]}, subject: "Re: Contract", msgid: "pre-bob@axe.test",
		body: "Our price.", files: []testFile{{"contract.docx", v2}}}, tags[bob])
	if want := []int{0, 1}; !slices.Equal(made, want) {
		t.Errorf("comparisons made before the transaction: %v, want %v (none for the start, one for the reply)", made, want)
	}
	if h := to(t, r.newMail(), alice); !strings.Contains(h.msg.Text, "¶ 2: “Price 4.8m.” → “Price 4.5m.”") {
		t.Errorf("alice's handoff does not say what changed:\n%s", h.msg.Text)
	}
}

// TestCompareAgainAfterConcurrentTurns: when other mails change a document
// between a reply's comparison and its write transaction, the transaction
// compares again, against the version the receiving party has now, not the
// one compared before.
func TestCompareAgainAfterConcurrentTurns(t *testing.T) {
	r := newRig(t, rigOptions{})
	para := func(price, month string) []byte {
		return docx(t, []string{"The parties agree.", "Price " + price + ".", "Delivery in " + month + "."}, "", "")
	}
	r.mustSend(&testMail{from: alice, to: []string{bob}, cc: []string{gw}, subject: "Contract", msgid: "race-start@acme.test",
		body: "Our draft.", files: []testFile{{"contract.docx", para("4.8m", "May")}}}, gw)
	tags := tagsOf(t, r.newMail())

	// Between the comparison of bob's reply and its transaction, bob ends
	// his turn with another version, and alice hands it back with hers.
	check := r.meanwhile(
		&testMail{from: bob, to: []string{tags[bob]}, subject: "Re: Contract", msgid: "race-bob1@axe.test",
			body: "June, then.", files: []testFile{{"contract.docx", para("4.8m", "June")}}},
		&testMail{from: alice, to: []string{tags[alice]}, subject: "Re: Contract", msgid: "race-alice@acme.test",
			body: "Our price.", files: []testFile{{"contract.docx", para("4.6m", "June")}}},
	)
	r.mustSend(&testMail{from: bob, to: []string{tags[bob]}, subject: "Re: Contract", msgid: "race-bob2@axe.test",
		body: "Our price.", files: []testFile{{"contract.docx", para("4.5m", "May")}}}, tags[bob])
	check()
	if ts := r.turns(r.collab().ID); len(ts) != 4 || ts[3].MsgID != "race-bob2@axe.test" {
		t.Fatalf("want 4 turns, the last ended by bob's first reply; got %d", len(ts))
	}
	var last *sent
	for _, m := range r.newMail() {
		if m.out.Msg.To.Addr == alice && m.kind == "handoff" {
			last = m
		}
	}
	if last == nil {
		t.Fatal("no handoff to alice")
	}
	for _, want := range []string{"¶ 2: “Price 4.6m.” → “Price 4.5m.”", "¶ 3: “Delivery in June.” → “Delivery in May.”"} {
		if !strings.Contains(last.msg.Text, want) {
			t.Errorf("alice's last handoff lacks %q (compared against a stale version?):\n%s", want, last.msg.Text)
		}
	}
	if strings.Contains(last.msg.Text, "4.8m") {
		t.Errorf("alice's last handoff compares against the version before the turns in between:\n%s", last.msg.Text)
	}
}

// TestHandoffHistoryBeforeTransaction: the handoff's history, whose turns
// are read before the write transaction, lists every ended turn: when the
// reply is the next to end one, and when other mails ended turns between
// that read and the transaction. A reply without files reads them too.
func TestHandoffHistoryBeforeTransaction(t *testing.T) {
	r := newRig(t, rigOptions{})
	para := func(month string) []byte {
		return docx(t, []string{"The parties agree.", "Delivery in " + month + "."}, "", "")
	}
	r.mustSend(&testMail{from: alice, to: []string{bob}, cc: []string{gw}, subject: "Contract", msgid: "hist-start@acme.test",
		body: "Our draft.", files: []testFile{{"contract.docx", para("May")}}}, gw)
	tags := tagsOf(t, r.newMail())
	history := func(t *testing.T, to string, notes ...string) {
		t.Helper()
		var last *sent
		for _, m := range r.newMail() {
			if m.out.Msg.To.Addr == to && m.kind == "handoff" {
				last = m
			}
		}
		if last == nil {
			t.Fatalf("no handoff to %s", to)
		}
		_, hist, ok := strings.Cut(last.msg.Text, "History:")
		if !ok {
			t.Fatalf("handoff to %s without a history:\n%s", to, last.msg.Text)
		}
		for i, note := range notes {
			if !strings.Contains(hist, fmt.Sprintf("Turn %d ·", i+1)) || !strings.Contains(hist, note) {
				t.Errorf("history of the handoff to %s lacks turn %d (%q):\n%s", to, i+1, note, hist)
			}
		}
		if strings.Contains(hist, fmt.Sprintf("Turn %d ·", len(notes)+1)) {
			t.Errorf("history of the handoff to %s lists a turn after %d:\n%s", to, len(notes), hist)
		}
	}
	r.mustSend(&testMail{from: bob, to: []string{tags[bob]}, subject: "Re: Contract", msgid: "hist-bob1@axe.test",
		body: "June, then.", files: []testFile{{"contract.docx", para("June")}}}, tags[bob])
	history(t, alice, "Our draft.", "June, then.")
	r.mustSend(&testMail{from: alice, to: []string{tags[alice]}, subject: "Re: Contract", msgid: "hist-alice1@acme.test",
		body: "/done\nFine by us, no files."}, tags[alice])
	history(t, bob, "Our draft.", "June, then.", "Fine by us, no files.")

	// Between the read of bob's reply and its transaction, bob ends his
	// turn with another mail, and alice hands it back.
	check := r.meanwhile(
		&testMail{from: bob, to: []string{tags[bob]}, subject: "Re: Contract", msgid: "hist-bob2@axe.test",
			body: "July, in fact.", files: []testFile{{"contract.docx", para("July")}}},
		&testMail{from: alice, to: []string{tags[alice]}, subject: "Re: Contract", msgid: "hist-alice2@acme.test",
			body: "/done\nJuly it is."},
	)
	r.mustSend(&testMail{from: bob, to: []string{tags[bob]}, subject: "Re: Contract", msgid: "hist-bob3@axe.test",
		body: "August, last offer.", files: []testFile{{"contract.docx", para("August")}}}, tags[bob])
	check()
	history(t, alice, "Our draft.", "June, then.", "Fine by us, no files.", "July, in fact.", "July it is.", "August, last offer.")
}

// meanwhile has mails sent, once, between the next mail's comparisons
// before its write transaction and that transaction, and returns the check
// that each was accepted.
func (r *rig) meanwhile(mails ...*testMail) (check func()) {
	var armed atomic.Bool
	armed.Store(true)
	var errs []error
	r.eng.AfterPrecompare(func(int) {
		if !armed.Swap(false) {
			return
		}
		for _, m := range mails {
			errs = append(errs, r.send(m.from, m.to, m.bytes()))
		}
	})
	return func() {
		r.t.Helper()
		for _, err := range errs {
			if err != nil {
				r.t.Fatalf("a mail sent meanwhile: %v", err)
			}
		}
	}
}
