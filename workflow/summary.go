package workflow

import (
	"slices"
	"strings"
	"time"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/message"
	"github.com/turnmail/turnmail/store"
)

// weekLine is one collaboration in a person's weekly summary.
type weekLine struct {
	c       *store.Collab
	waiting bool // the person's party holds the turn
	overdue bool
	section section
	tag     string // the person's tagged address in it
}

// sendSummary queues one person's weekly summary: every active
// collaboration they are in, what is waiting on them first, then overdue
// ones, then by nearest deadline (DESIGN §2.8). It reads the person's
// memberships again: the plan may be seconds old.
func (p *tickPlan) sendSummary(tx *store.Tx, o *outbox, pp *personPlan) (string, error) {
	if summarySent(tx, pp.address, pp.slot) {
		return "", nil
	}
	// The person may have unsubscribed since the plan was read.
	if person, err := tx.Person(pp.address); err == nil && person.SummaryOff {
		return "", nil
	}
	ms, err := tx.Memberships(pp.address)
	if err != nil || len(ms) == 0 {
		return "", err
	}
	weekStart := pp.slot.AddDate(0, 0, -7)
	var lines []weekLine
	name := ""
	for _, m := range ms {
		if name == "" {
			name = m.Name
		}
		c, err := activeCollab(tx, m.Collab)
		if err != nil {
			return "", err
		} else if c == nil {
			continue
		}
		l, err := p.summaryLine(tx, c, &store.Participant{ID: m.ID, Party: m.Party, Role: m.Role}, weekStart, pp.slot)
		if err != nil {
			return "", err
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 && p.e.cfg.Summary.SkipEmpty {
		return "", nil // wrapped up since the plan was read
	}
	first, err := tx.MarkOnce(summaryKey(pp.address, pp.slot), p.now)
	if err != nil || !first {
		return "", err
	}
	slices.SortStableFunc(lines, func(a, b weekLine) int {
		switch {
		case a.waiting != b.waiting:
			return boolOrder(a.waiting)
		case a.overdue != b.overdue:
			return boolOrder(a.overdue)
		case !a.c.Deadline.Equal(b.c.Deadline):
			if a.c.Deadline.IsZero() {
				return 1
			}
			if b.c.Deadline.IsZero() {
				return -1
			}
			return a.c.Deadline.Compare(b.c.Deadline)
		}
		return a.c.TurnSince.Compare(b.c.TurnSince)
	})
	waiting, overdue := 0, 0
	var sections []section
	for _, w := range lines {
		if w.waiting {
			waiting++
		}
		if w.overdue {
			overdue++
		}
		sections = append(sections, w.section)
	}
	l := summaryLetter(sections, waiting, overdue)
	html := l.HTML()
	tag := o.e.tag
	m := mail.Outgoing{
		MessageID: message.NewMessageID(tag.Domain()),
		Date:      p.now,
		From:      mail.Address{Name: "turnmail", Addr: tag.Gateway()},
		To:        mail.Address{Name: name, Addr: pp.address},
		Subject:   summarySubject(waiting, len(lines)),
		Header:    [][2]string{{"X-Turnmail-Kind", kindSummary}},
		Text:      l.Text(),
		HTML:      html,
	}
	var unsub []string
	// A reply lands in the collaboration most in need of it or, with none
	// active, in one the person was in: /summary off and the unsubscribe
	// mailto work through a wrapped collaboration too.
	reply := tag.Address(ms[0].Collab, ms[0].ID)
	if len(lines) > 0 {
		reply = lines[0].tag
	}
	m.ReplyTo = &mail.Address{Addr: reply}
	unsub = append(unsub, "<mailto:"+reply+"?subject=unsubscribe>")
	if p.e.cfg.UnsubscribeURL != nil {
		unsub = append(unsub, "<"+p.e.cfg.UnsubscribeURL(pp.address)+">")
		m.Header = append(m.Header, [2]string{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}) // RFC 8058
	}
	m.ListUnsubscribe = strings.Join(unsub, ", ")
	if err := o.enqueue(tx, "", kindSummary, &m); err != nil {
		return "", err
	}
	return kindSummary, nil
}

// summaryKey is the marker of address's summary for the week of slot: the
// slot's date on the person's own clock.
func summaryKey(address string, slot time.Time) string {
	return summaryPrefix(address) + slot.Format(time.DateOnly)
}

// summaryPrefix starts every summary marker of address.
func summaryPrefix(address string) string {
	return "summary\x00" + address + "\x00"
}

// summarySent reports whether address had a summary for a slot less than a
// week from this one, on either side: a change of weekday or time zone moves
// the slot's date (even before a slot already sent), and must not bring a
// second summary within a week. It reads the person's markers in one seek:
// the tick asks this of every person, twice.
func summarySent(tx *store.Tx, address string, slot time.Time) bool {
	day, err := time.Parse(time.DateOnly, slot.Format(time.DateOnly))
	if err != nil {
		return false
	}
	prefix, sent := summaryPrefix(address), false
	tx.MarkKeys(prefix, func(key string) bool {
		d, err := time.Parse(time.DateOnly, key[len(prefix):])
		// Dates, as civil days: AddDate's across a change of clocks too.
		sent = err == nil && d.Sub(day).Abs() <= 6*24*time.Hour
		return !sent
	})
	return sent
}

func boolOrder(first bool) int {
	if first {
		return -1
	}
	return 1
}

// summaryLine loads what the summary says of collaboration c for
// participant pt: the turns that ended in the week from..to, and the people
// and documents they name.
func (p *tickPlan) summaryLine(tx *store.Tx, c *store.Collab, pt *store.Participant, from, to time.Time) (weekLine, error) {
	tag := p.e.tag.Address(c.ID, pt.ID)
	// Only a leader can end the turn: it waits on them, not on everyone of
	// the party.
	w := weekLine{c: c, waiting: c.TurnParty == pt.Party && pt.Role == store.RoleLeader, overdue: c.Overdue(p.now), tag: tag}
	var turns []*store.Turn
	var err error
	// The latest turn ended when the current one began: a turn held since
	// before the week means a quiet week, with no turn to read.
	if !c.TurnSince.Before(from) {
		if turns, err = tx.TurnsEndedSince(c.ID, from); err != nil {
			return w, err
		}
	}
	s := &state{c: c}
	if len(turns) > 0 {
		if s.people, err = tx.Participants(c.ID); err != nil {
			return w, err
		}
		if s.docs, err = tx.Documents(c.ID); err != nil {
			return w, err
		}
	}
	w.section = weekSection(s, pt, turns, w.overdue, to, tag)
	return w, nil
}
