package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"regexp"
	"testing"
)

// The same seed makes the same mails, byte for byte but for Date, whatever
// is done to make them faster: a gateway that took a run's mails takes them
// again as redeliveries, and a bench run sends what the one before sent.
// The hashes are of the mails as turnmail-load made them before it built
// them a block at a time.
func TestScenarioSameMails(t *testing.T) {
	mails := func(size int, files []attachment) []*outMail {
		o := testOptions("", 0)
		o.seed, o.size, o.files = 11, size, files
		sc := newScenario(o)
		owner, other := sc.people(3)
		c := &collab{n: 3, owner: owner, other: other, tags: map[string]string{
			owner: "collab+x.p1.abc@gw.test", other: "collab+x.p2.def@gw.test",
		}}
		return []*outMail{sc.start(0, 0), sc.start(7, 7), sc.reply(c, 0, 10), sc.reply(c, 1, 11)}
	}
	date := regexp.MustCompile(`(?m)^Date: [^\r]*\r\n`)
	for _, tc := range []struct {
		name  string
		mails []*outMail
		want  string
	}{
		{"200 KB", mails(200_000, nil), "bab068e05ee03635725c70ab39d7b11d2cd192330490d4b01476738b6124e483"},
		{"odd size", mails(1001, nil), "1eb48c6d9a321d3173da392762f177a158357db0eaa912328ce8a01201bd6c66"},
		{"one byte", mails(1, nil), "17e71f364df0e3efc12c824a1d7a89fad204f000d644f80ed32afcdae560d3c1"},
		{"nothing", mails(0, nil), "cf14625c83ad73b385e2c442d327281e8237ccfc31e97834f8f84d7e0919b001"},
		{"files", mails(0, []attachment{{name: "a.docx", data: bytes.Repeat([]byte("docx"), 3000)}, {name: "b.pdf", data: []byte("%PDF")}}), "6e1ff7129cf44fbcef00a8941cca8845d4a82ef60b81e04dc04c3513a4c0a3e2"},
	} {
		h := sha256.New()
		for _, m := range tc.mails {
			fmt.Fprintf(h, "%s %q %s %s\n", m.from, m.rcpt, m.msgID, m.await)
			if date.FindAll(m.data, -1) == nil {
				t.Errorf("%s: %s has no Date", tc.name, m.msgID)
			}
			h.Write(date.ReplaceAll(m.data, nil))
		}
		if got := fmt.Sprintf("%x", h.Sum(nil)); got != tc.want {
			t.Errorf("%s: mails hash to %s; want %s", tc.name, got, tc.want)
		}
	}
}
