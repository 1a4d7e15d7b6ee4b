package workflow_test

import (
	"fmt"
	"testing"
)

// BenchmarkIngestReply measures the ingest path: SMTP DATA of one reply with
// a 200 KB attachment, through parsing, chunking and the rules, to the
// durable commit that also queues the handoff mail. Each reply ends a turn,
// so the two leaders take turns.
func BenchmarkIngestReply(b *testing.B) {
	r := newRig(b, rigOptions{})
	r.start(fileData(1, 200_000))
	tags := tagsOf(b, r.newMail())
	mails := make([][]byte, b.N)
	for i := range mails {
		from := bob
		if i%2 == 1 {
			from = alice
		}
		mails[i] = (&testMail{from: from, to: []string{tags[from]}, subject: "Re: contract", msgid: fmt.Sprintf("bench-%d@test", i),
			body: "Edited, see clause 4.\n\nOn Monday someone wrote:\n> earlier", files: []testFile{{"contract.docx", fileData(uint64(i+2), 200_000)}}}).bytes()
	}
	b.SetBytes(int64(len(mails[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		from := bob
		if i%2 == 1 {
			from = alice
		}
		if err := r.send(from, []string{tags[from]}, mails[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
}
