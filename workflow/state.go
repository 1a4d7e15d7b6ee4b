package workflow

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/turnmail/turnmail/store"
)

// state is one collaboration as loaded inside a transaction.
type state struct {
	c *store.Collab
	// people are the placed participants: in a party, getting its mail.
	// Everything that mails a party or everyone goes through them, so that
	// nobody pending or removed is mailed by a loop that forgot to check.
	people  []*store.Participant
	pending []*store.Participant // in the collaboration, in no party yet
	gone    []*store.Participant // removed; kept to name them in the history
	docs    []*store.Document
	latest  map[string]*store.Version // document id → newest version
}

func loadState(tx *store.Tx, cid string) (*state, error) {
	c, err := tx.Collab(cid)
	if err != nil {
		return nil, fmt.Errorf("load collaboration %s: %w", cid, err)
	}
	s := &state{c: c, latest: make(map[string]*store.Version)}
	ps, err := tx.Participants(cid)
	if err != nil {
		return nil, fmt.Errorf("load participants of %s: %w", cid, err)
	}
	s.group(ps)
	if s.docs, err = tx.Documents(cid); err != nil {
		return nil, fmt.Errorf("load documents of %s: %w", cid, err)
	}
	for _, d := range s.docs {
		// The latest alone: a long collaboration has hundreds of versions,
		// and every mail to it loads its state.
		v, err := tx.LatestVersion(cid, d.ID)
		if err != nil {
			return nil, fmt.Errorf("load versions of %s/%s: %w", cid, d.ID, err)
		}
		if v != nil {
			s.latest[d.ID] = v
		}
	}
	return s, nil
}

// group sorts participant records, in id order, into people, pending and
// gone.
func (s *state) group(ps []*store.Participant) {
	s.people, s.pending, s.gone = nil, nil, nil
	for _, p := range ps {
		switch {
		case !p.Removed.IsZero():
			s.gone = append(s.gone, p)
		case p.Pending:
			s.pending = append(s.pending, p)
		default:
			s.people = append(s.people, p)
		}
	}
}

// regroup sorts the records again after someone was added, placed or
// removed.
func (s *state) regroup() {
	all := slices.Concat(s.people, s.pending, s.gone)
	slices.SortFunc(all, func(a, b *store.Participant) int { return cmp.Compare(pidNumber(a.ID), pidNumber(b.ID)) })
	s.group(all)
}

// pidNumber is n of a participant id "p<n>", for ordering.
func pidNumber(pid string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(pid, "p"))
	return n
}

// byAddress finds the participant with address addr (any case), placed or
// pending; nil for a stranger or someone removed.
func (s *state) byAddress(addr string) *store.Participant {
	for _, p := range slices.Concat(s.people, s.pending) {
		if strings.EqualFold(p.Address, addr) {
			return p
		}
	}
	return nil
}

// removed finds the removed participant with address addr, if any.
func (s *state) removed(addr string) *store.Participant {
	for _, p := range s.gone {
		if strings.EqualFold(p.Address, addr) {
			return p
		}
	}
	return nil
}

// byID finds a participant by id, whether placed, pending or removed: the
// history names people who have left.
func (s *state) byID(pid string) *store.Participant {
	for _, p := range slices.Concat(s.people, s.pending, s.gone) {
		if p.ID == pid {
			return p
		}
	}
	return nil
}

// party lists the members of party i.
func (s *state) party(i int) []*store.Participant {
	var ps []*store.Participant
	for _, p := range s.people {
		if p.Party == i {
			ps = append(ps, p)
		}
	}
	return ps
}

// partyIndex finds the party named name, whatever its case ("acme" is
// ACME).
func (s *state) partyIndex(name string) (int, bool) {
	for i, p := range s.c.Parties {
		if strings.EqualFold(p.Name, name) {
			return i, true
		}
	}
	return 0, false
}

func (s *state) partyNames() []string {
	names := make([]string, len(s.c.Parties))
	for i, p := range s.c.Parties {
		names[i] = p.Name
	}
	return names
}

// match assigns filenames to the collaboration's documents (DESIGN §3):
// one document id per name, "" for a new document.
func (s *state) match(names []string) []string {
	docs := make([]Doc, len(s.docs))
	for i, doc := range s.docs {
		docs[i] = Doc{ID: doc.ID, Name: doc.Name}
	}
	return MatchDocuments(names, docs, s.partyNames())
}

// docNamed finds the document named exactly name.
func (s *state) docNamed(name string) *store.Document {
	for _, d := range s.docs {
		if d.Name == name {
			return d
		}
	}
	return nil
}

func (s *state) doc(id string) *store.Document {
	for _, d := range s.docs {
		if d.ID == id {
			return d
		}
	}
	return nil
}

// who names a participant for other people: display name, or address.
func (s *state) who(pid string) string {
	p := s.byID(pid)
	if p == nil {
		return pid
	}
	return displayName(p)
}

// whoFor names participant pid in mail to reader: a ghost of another party
// than the reader's is only "someone of" their party, for a ghost is never
// shown to the other party (DESIGN §1). A nil reader is anyone, as in the
// history digest that both parties read.
func (s *state) whoFor(pid string, reader *store.Participant) string {
	p := s.byID(pid)
	if p != nil && p.Role == store.RoleGhost && (reader == nil || reader.Pending || p.Party != reader.Party) && p.Party < len(s.c.Parties) {
		return ghostName(s.c.Parties[p.Party].Name)
	}
	return s.who(pid)
}

func displayName(p *store.Participant) string {
	if p.Name != "" {
		return p.Name
	}
	return p.Address
}

// holds reports whether p's party holds the turn.
func (s *state) holds(p *store.Participant) bool {
	return s.c.State == store.StateActive && p.Party == s.c.TurnParty
}

// nextPID allocates a participant id.
func (s *state) nextPID() string {
	s.c.NextPID++
	return fmt.Sprintf("p%d", s.c.NextPID)
}

func (s *state) nextDocID() string {
	s.c.NextDoc++
	return fmt.Sprintf("d%d", s.c.NextDoc)
}

// stale reports whether dr was made on an older version of its document
// than the latest.
func (s *state) stale(dr *store.Draft) bool {
	v := s.latest[dr.Doc]
	return v != nil && draftStale(dr, v.Number)
}

// draftStale reports whether dr was made on an older version of its
// document than latest. A draft of a new document, or one stored before
// drafts recorded their base, is never stale.
func draftStale(dr *store.Draft, latest int) bool {
	return dr.Doc != "" && dr.Base > 0 && latest > dr.Base
}

// personNamed finds the person of party whose name an editor would
// record as name ("Dave Axe", "dave", "dave@axe.test"), any case.
func (s *state) personNamed(party int, name string) *store.Participant {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil
	}
	for _, p := range s.party(party) {
		local, _, _ := strings.Cut(p.Address, "@")
		if strings.EqualFold(name, p.Name) || strings.EqualFold(name, p.Address) || strings.EqualFold(name, local) {
			return p
		}
	}
	return nil
}

// turnFiles lists the versions turn t carried, "contract.docx v3, prices.xlsx v2".
func (s *state) turnFiles(t *store.Turn) string {
	files := make([]string, 0, len(t.Versions))
	for _, v := range t.Versions {
		name := v.Doc
		if doc := s.doc(v.Doc); doc != nil {
			name = doc.Name
		}
		files = append(files, fmt.Sprintf("%s v%d", name, v.Number))
	}
	return strings.Join(files, ", ")
}
