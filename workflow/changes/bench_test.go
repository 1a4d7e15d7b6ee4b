package changes

import (
	"fmt"
	"html"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"
)

var benchWords = strings.Fields(`the supplier customer shall provide services agreement term fees invoice
	liability indemnity confidential information party parties notice termination breach remedy
	within days months written consent reasonable endeavours warranty schedule annex clause subject
	law jurisdiction England courts exclusive nothing limits excludes fraud death personal injury
	payment interest late rate per annum above base deliverables milestones acceptance tests
	data protection processor controller personal security measures audit records retention`)

// wordDoc builds a docx as Word writes one: paragraphs of varied text in
// runs with rsids and properties, split mid-word now and then, a heading
// every twenty paragraphs, and an incompressible image of imageSize bytes.
// edit, when not nil, rewrites paragraph texts before they are written.
func wordDoc(t testing.TB, paras, imageSize int, edit func([]string) []string) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	texts := make([]string, paras)
	for i := range texts {
		n := 8 + rng.IntN(60)
		w := make([]string, n)
		for k := range w {
			w[k] = benchWords[rng.IntN(len(benchWords))]
		}
		texts[i] = fmt.Sprintf("%d.%d ", i/20+1, i%20+1) + strings.Join(w, " ") + "."
	}
	if edit != nil {
		texts = edit(texts)
	}
	var body strings.Builder
	for i, text := range texts {
		fmt.Fprintf(&body, `<w:p w14:paraId="%08X" w14:textId="%08X" w:rsidR="00C41A7B" w:rsidRDefault="00C41A7B" w:rsidP="00A90E3F">`, i, i*7)
		if i%20 == 0 {
			body.WriteString(`<w:pPr><w:pStyle w:val="Heading1"/></w:pPr>`)
		} else {
			body.WriteString(`<w:pPr><w:spacing w:after="120" w:line="276" w:lineRule="auto"/><w:jc w:val="both"/><w:rPr><w:lang w:val="en-GB"/></w:rPr></w:pPr>`)
		}
		for len(text) > 0 {
			// Runs of 10 to 80 bytes: rsid boundaries fall mid-word.
			n := min(len(text), 10+rng.IntN(70))
			fmt.Fprintf(&body, `<w:r w:rsidR="00%06X"><w:rPr><w:rFonts w:ascii="Calibri" w:hAnsi="Calibri"/><w:sz w:val="22"/><w:lang w:val="en-GB"/></w:rPr><w:t xml:space="preserve">%s</w:t></w:r>`,
				rng.IntN(1<<24), html.EscapeString(text[:n]))
			text = text[n:]
		}
		body.WriteString(`</w:p>`)
	}
	image := make([]byte, imageSize)
	rand.NewChaCha8([32]byte{1}).Read(image) // incompressible, as a PNG's deflated data is
	doc := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document ` + wordNS + ` xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="w14"><w:body>` + body.String() + `<w:sectPr/></w:body></w:document>`
	return zipOf(t,
		member{name: "[Content_Types].xml", body: `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="png" ContentType="image/png"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`},
		member{name: "word/document.xml", body: doc},
		member{name: "word/media/image1.png", body: string(image), store: true},
	)
}

// benchEdits changes, adds and removes a few paragraphs across the document.
func benchEdits(texts []string) []string {
	for _, i := range []int{3, 400, 1201, 1800, 2999} {
		texts[i] = strings.Replace(texts[i], " ", " not ", 1)
	}
	texts = append(texts[:2500], texts[2501:]...)
	return append(texts[:1000], append([]string{"1000.a The parties agree to meet monthly.", "1000.b Minutes are kept by the Customer."}, texts[1000:]...)...)
}

// BenchmarkCompareDocx5MB compares two versions of a 5 MB docx: 3,000
// paragraphs (word/document.xml 5.1 MiB, 0.45 MiB deflated) and a 4.5 MiB
// image, five paragraphs changed, two added, one removed. Besides
// time and allocations it reports peak-heap-B: the most heap in use during
// one Compare beyond what was in use before it, sampled every 200 µs.
func BenchmarkCompareDocx5MB(b *testing.B) {
	older, newer := wordDoc(b, 3000, 9<<19, nil), wordDoc(b, 3000, 9<<19, benchEdits) // 4.5 MiB of image
	s := compare(b, "big.docx", older, newer)
	if s.TooLarge || s.Counts != (Counts{Changed: 5, Added: 2, Removed: 1}) {
		b.Fatalf("summary %+v", s)
	}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	heap := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	var peak uint64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		runtime.GC()
		base := heap()
		done := make(chan struct{})
		var hi uint64
		var wg sync.WaitGroup
		wg.Go(func() {
			tick := time.NewTicker(200 * time.Microsecond)
			defer tick.Stop()
			for {
				if h := heap(); h > hi {
					hi = h
				}
				select {
				case <-done:
					return
				case <-tick.C:
				}
			}
		})
		b.StartTimer()
		compare(b, "big.docx", older, newer)
		b.StopTimer()
		close(done)
		wg.Wait()
		if h := heap(); h > hi {
			hi = h
		}
		peak = max(peak, hi-min(base, hi))
		b.StartTimer()
	}
	b.ReportMetric(float64(peak), "peak-heap-B")
	b.ReportMetric(float64(len(newer))/(1<<20), "file-MiB")
}
