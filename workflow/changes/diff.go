package changes

import (
	"time"
	"unicode/utf8"

	"github.com/sergi/go-diff/diffmatchpatch"
)

// diff compares the units of two versions into s: Counts and Passages.
//
// The sequence diff is go-diff's Myers diff (linear space, O(N·D) time),
// run on one rune per distinct unit. It gives up at a deadline by
// answering "all removed, all added" for what is left, so a diff that ends
// past the budget's deadline is TooLarge, not a summary.
func diff(b *budget, s *Summary, older, newer []unit) error {
	ids := make(map[string]rune, len(older))
	encode := func(units []unit) []rune {
		rs := make([]rune, len(units))
		for i, u := range units {
			r, ok := ids[u.text]
			if !ok {
				// Skip the surrogates: go-diff hands runs back as strings,
				// where they would not survive.
				r = rune(len(ids) + 1)
				if r >= 0xD800 {
					r += 0x800
				}
				ids[u.text] = r
			}
			rs[i] = r
		}
		return rs
	}
	a, n := encode(older), encode(newer)
	left := time.Until(b.deadline)
	if err := b.checkNow(); err != nil {
		return err
	}
	dmp := diffmatchpatch.New()
	dmp.DiffTimeout = left
	diffs := dmp.DiffMainRunes(a, n, false)
	if err := b.checkNow(); err != nil {
		return err
	}
	i, j := 0, 0 // next unit of older, of newer
	for k := 0; k < len(diffs); {
		if diffs[k].Type == diffmatchpatch.DiffEqual {
			c := utf8.RuneCountInString(diffs[k].Text)
			i, j, k = i+c, j+c, k+1
			continue
		}
		removed, added := 0, 0
		for ; k < len(diffs) && diffs[k].Type != diffmatchpatch.DiffEqual; k++ {
			c := utf8.RuneCountInString(diffs[k].Text)
			if diffs[k].Type == diffmatchpatch.DiffDelete {
				removed += c
			} else {
				added += c
			}
		}
		s.hunk(older[i:i+removed], newer[j:j+added])
		i, j = i+removed, j+added
	}
	return nil
}

// hunk counts a run of removed units replaced by a run of added ones: as
// many as both have are changed, pairwise, the rest added or removed.
func (s *Summary) hunk(removed, added []unit) {
	changed := min(len(removed), len(added))
	s.Counts.Changed += changed
	s.Counts.Removed += len(removed) - changed
	s.Counts.Added += len(added) - changed
	for k := 0; k < max(len(removed), len(added)) && len(s.Passages) < MaxPassages; k++ {
		switch {
		case k < changed:
			o, n := excerpt(removed[k].text, added[k].text)
			s.Passages = append(s.Passages, Passage{Kind: Changed, At: added[k].at, Old: o, New: n})
		case k < len(removed):
			o, _ := excerpt(removed[k].text, "")
			s.Passages = append(s.Passages, Passage{Kind: Removed, At: removed[k].at, Old: o})
		default:
			_, n := excerpt("", added[k].text)
			s.Passages = append(s.Passages, Passage{Kind: Added, At: added[k].at, New: n})
		}
	}
}

// excerptLead is how much of the text before the first difference an
// excerpt keeps, so a reader sees where in a long paragraph it is.
const excerptLead = 60

// excerpt cuts two texts to PassageRunes runes each, from a little before
// where they first differ, at a word boundary where one is near, with "…"
// where text was left out.
func excerpt(older, newer string) (string, string) {
	if utf8.RuneCountInString(older) <= PassageRunes && utf8.RuneCountInString(newer) <= PassageRunes {
		return older, newer
	}
	o, n := []rune(older), []rune(newer)
	p := 0
	for p < len(o) && p < len(n) && o[p] == n[p] {
		p++
	}
	start := 0
	if p > excerptLead {
		start = p - excerptLead
		for k := start; k < start+20 && k < p; k++ {
			if o[k] == ' ' {
				start = k + 1
				break
			}
		}
	}
	return cut(o, start), cut(n, start)
}

// cut returns up to PassageRunes runes of r from start, ending at a word
// boundary where one is near.
func cut(r []rune, start int) string {
	if len(r) == 0 {
		return ""
	}
	start = min(start, len(r))
	end := len(r)
	if end-start > PassageRunes {
		end = start + PassageRunes
		for k := end; k > end-20; k-- {
			if r[k-1] == ' ' {
				end = k - 1
				break
			}
		}
	}
	out := string(r[start:end])
	if start > 0 {
		out = "…" + out
	}
	if end < len(r) {
		out += "…"
	}
	return out
}
