package workflow_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/turnmail/turnmail/mail"
	"github.com/turnmail/turnmail/mail/tag"
	"github.com/turnmail/turnmail/store"
	"github.com/turnmail/turnmail/workflow"
)

// tickSeedVersion is part of the seeded file's name: whatever changes what
// seedTick writes changes it, so that a file kept with -tick.dir is seeded
// again rather than measured as if it were the new one.
const tickSeedVersion = 2 // 2: the due index, as the ticks before left it

// tickAt is when the benchmark's tick runs: the weekly slot, Monday 08:00
// UTC, where everyone's summary is due at once. The ticks of a running
// gateway come a minute apart (serve's tickInterval); seedTick leaves what
// the one before tickAt would have.
var tickAt = monday(0)

const tickBefore = time.Minute

// tickConfig is the benchmark's schedule: the defaults of the binary's
// [summary] and [reminders] sections.
var tickConfig = workflow.Config{
	Summary:   weekly,
	Reminders: workflow.ReminderConfig{HeldFor: 72 * time.Hour, BeforeDeadline: 24 * time.Hour},
}

// tickWorld is the seeded population: people and the collaborations they
// are in. Issue 11's figures, a million collaborations among 100,000
// people, are ten collaborations a person; with two parties, a leader in
// each and in one of six a third person (a contributor or a follower),
// that is 2.17 seats a collaboration and 22 memberships a person. A fifth
// of the seats go to the busiest tenth of the people (about 60
// collaborations each), the rest to anyone (about 17 each).
type tickWorld struct {
	people, collabs int
}

// tickWant is what seedTick wrote and what the tick is to queue, kept
// beside the file.
type tickWant struct {
	People      int // with a membership
	Collabs     int
	Active      int // collaborations
	Memberships int
	Lines       int // active memberships of people who get a summary: the summaries' sections
	WeekLines   int // those with turns ended in the week
	Waiting     int // those waiting on the person
	Summaries   int
	Reminders   int
}

var (
	companyHeads = []string{"Acme", "Northwind", "Contoso", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell",
		"Cyberdyne", "Hooli", "Vandelay", "Soylent", "Wonka", "Gringotts", "Oceanic", "Massive", "Aperture", "Monarch", "Dunder"}
	companyTails = []string{"Legal", "Holdings", "GmbH", "Partners", "Logistics", "Foods", "Energy", "Bank", "Insurance",
		"Systems", "Pharma", "Retail", "Media", "Motors", "Capital", "Labs", "Foundry", "Shipping", "Textiles", "Telecom",
		"Consulting", "Realty", "Airlines", "Chemicals", "Studios"}
	firstNames = []string{"Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Karin",
		"Liam", "Maria", "Nils", "Olga", "Pedro", "Quinn", "Rosa", "Samir", "Tessa", "Ulrich", "Vera", "Wei", "Xenia",
		"Yusuf", "Zoe", "Amir", "Bianca", "Chen", "Dana", "Emil", "Fatima", "Gustav", "Hana", "Igor", "Julia", "Kofi",
		"Lena", "Marek", "Nora"}
	lastNames = []string{"Schmidt", "Novak", "Rossi", "Dubois", "García", "Jensen", "Kowalski", "Silva", "Müller",
		"Smith", "Tanaka", "Okafor", "Haddad", "Larsen", "Petrov", "Costa", "Moreau", "Fischer", "Nguyen", "Kim",
		"Andersson", "Bauer", "Ivanova", "Martin", "Schneider", "Weber", "Yilmaz", "Horvat", "Popescu", "Santos",
		"Lindqvist", "O'Brien", "Fernández", "Wagner", "Becker", "Hoffmann", "Dvořák", "Nielsen", "Rahman", "Chen",
		"Ali", "Kaya", "Meyer", "Lopez", "Virtanen", "Jansen", "De Vries", "Eriksen", "Kovač", "Zimmermann"}
	subjects = []string{"Master services agreement", "Supply agreement 2027", "NDA", "Data processing agreement",
		"Framework contract, logistics", "Lease renewal, building C", "Share purchase agreement", "Licence agreement",
		"Distribution agreement, Nordics", "Statement of work 4", "Loan facility amendment", "Joint venture terms"}
	docNames = []string{"Agreement.docx", "Annex A - prices.xlsx", "Schedule 3 - service levels.docx",
		"Side letter.docx", "Term sheet.pdf", "Annex B - data.xlsx"}
	// Notes as people write them when they end a turn: the summary shows
	// the gist of each, without the salutation.
	notes = []string{
		"Hi all,\n\nWe accepted most of your changes; clause 7.2 (liability cap) is still open, see our comment in the margin.\n\nBest regards",
		"Fine by us.",
		"Please see the attached revision. We could not agree to the new termination clause and put back the 90 days.",
		"Dear colleagues,\nattached our comments on the annex. The prices in rows 14 to 22 are those of the last quote.\nKind regards",
		"Clause 4 reworded as discussed on the phone.",
		"Our legal department has reviewed the draft; changes are tracked. We need an answer by Friday.",
		"Hello,\n\nthank you for the quick turnaround. Two small points left: the governing law and the notice address.\n\nThanks",
		"Agreed, with the exception of 12.3. Let us discuss on Thursday.",
		"",
		"Updated the service levels to 99.9 % as requested; the penalties in 5.4 follow from it.",
	}
	// Zones of a tenth of the people's own settings: at UTC+0 in November,
	// like the default, so that everyone's slot is the one tick, the worst
	// case of a weekly slot.
	utcZones = []string{"Europe/London", "Europe/Lisbon", "Atlantic/Reykjavik"}
)

// asciiLocal makes a name's letters those of an address's local part.
var asciiLocal = strings.NewReplacer(" ", "", "'", "", "á", "a", "í", "i", "ü", "u", "ř", "r", "č", "c")

// company is the name and mail domain of company i.
func company(i int) (name, domain string) {
	name = companyHeads[i%len(companyHeads)] + " " + companyTails[i/len(companyHeads)%len(companyTails)]
	return name, strings.ToLower(strings.ReplaceAll(name, " ", "-")) + ".test"
}

// person is person x: their address, name and company.
func (w tickWorld) person(x int) (address, name string, comp int) {
	comp = x * 7919 % (len(companyHeads) * len(companyTails))
	_, domain := company(comp)
	first, last := firstNames[x%len(firstNames)], lastNames[x/len(firstNames)%len(lastNames)]
	local := asciiLocal.Replace(strings.ToLower(first + "." + last))
	return fmt.Sprintf("%s.%d@%s", local, x, domain), first + " " + last, comp
}

// personRecord is person x's own settings, for one in ten; one in a
// hundred has turned summaries off.
func (w tickWorld) personRecord(x int, address string) *store.Person {
	switch {
	case x%100 == 7:
		return &store.Person{Address: address, SummaryOff: true}
	case x%10 == 3:
		return &store.Person{Address: address, TimeZone: utcZones[x/10%len(utcZones)]}
	}
	return nil
}

// pick is whose seat roll r gives.
func (w tickWorld) pick(r uint64) int {
	if r%5 == 0 {
		return int((r>>8)%uint64(w.people/10)) * 10
	}
	return int((r >> 8) % uint64(w.people))
}

// cid is collaboration j's id: six characters of [a-z2-7], as
// NewCollabID's, from a bijection of j, so that ids are spread as random
// ones are.
func cid(j int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	v := uint32(j) * 0x2545f491 & (1<<30 - 1)
	v ^= v >> 15
	var b [6]byte
	for i := range b {
		b[5-i] = alphabet[v>>(5*i)&31]
	}
	return string(b[:])
}

// benchCollab is one collaboration's records.
type benchCollab struct {
	c        *store.Collab
	seats    []int // person of each participant
	people   []*store.Participant
	docs     []*store.Document
	versions []*store.Version
	turns    []*store.Turn
	week     bool // turns ended in the week before tickAt
}

// collab is collaboration j, with the id id: two companies' leaders and
// sometimes a third person, one to three documents, one to eight turns
// ended, three in ten with one to three of them ended in the week before
// tickAt; a deadline for one in seven (one in five of them past), and
// one in 25 wrapped up.
func (w tickWorld) collab(j int, id string) *benchCollab {
	rng := rand.New(rand.NewPCG(uint64(j), 0x7117c))
	week := tickAt.AddDate(0, 0, -7)
	created := tickAt.AddDate(0, 0, -14-rng.IntN(540)).Add(-time.Duration(rng.IntN(86400)) * time.Second)
	bc := &benchCollab{}
	lead0 := w.pick(rng.Uint64())
	lead1 := w.pick(rng.Uint64())
	_, _, comp0 := w.person(lead0)
	if _, _, comp1 := w.person(lead1); comp1 == comp0 {
		// The next person is at another company (see person).
		lead1 = (lead1 + 1) % w.people
	}
	_, _, comp1 := w.person(lead1)
	name0, domain0 := company(comp0)
	name1, domain1 := company(comp1)
	c := &store.Collab{
		ID: id, Subject: subjects[rng.IntN(len(subjects))], State: store.StateActive, Owner: "p1", Created: created,
		Parties: []store.Party{{Name: name0}, {Name: name1}},
	}
	bc.c = c
	seat := func(x, party int, role string, added time.Time) {
		address, name, _ := w.person(x)
		pid := fmt.Sprintf("p%d", len(bc.people)+1)
		p := &store.Participant{ID: pid, Address: address, Name: name, Party: party, Role: role, Added: added}
		// As post leaves it once ten mails have gone to them.
		for range 10 {
			p.Thread = append(p.Thread, fmt.Sprintf("%013x%013x@gw.test", rng.Uint64()>>12, rng.Uint64()>>12))
		}
		bc.people, bc.seats = append(bc.people, p), append(bc.seats, x)
	}
	seat(lead0, 0, store.RoleLeader, created)
	seat(lead1, 1, store.RoleLeader, created)
	if r := rng.IntN(12); r < 2 {
		third := w.pick(rng.Uint64())
		if third != lead0 && third != lead1 {
			seat(third, rng.IntN(2), []string{store.RoleContributor, store.RoleFollower}[r], created.Add(time.Duration(rng.IntN(72))*time.Hour))
		}
	}
	c.NextPID = len(bc.people)

	nd := 1 + rng.IntN(3)
	for d := range nd {
		bc.docs = append(bc.docs, &store.Document{ID: fmt.Sprintf("d%d", d+1), Name: docNames[(j+d)%len(docNames)], Created: created})
	}
	c.NextDoc = nd
	ended := 1 + rng.IntN(8)
	inWeek := 0
	if ended > 1 && rng.IntN(10) < 3 {
		inWeek = 1 + rng.IntN(min(3, ended-1))
	}
	bc.week = inWeek > 0
	// Turn 1 is the starter's mail, ended as it came; the others end
	// spread over the time until the week, and over the week.
	oldEnd, old := week.Add(-time.Hour), ended-inWeek
	vers := make([]int, nd)
	last := created
	for k := 1; k <= ended; k++ {
		t := &store.Turn{Number: k, Party: (k - 1) % 2, Started: last, EndedBy: []string{"p1", "p2"}[(k-1)%2],
			MsgID: fmt.Sprintf("%016x@mail.%s", rng.Uint64(), []string{domain0, domain1}[(k-1)%2])}
		switch {
		case k == 1:
			t.Ended, t.How = created, "start"
			c.RootMsgID = t.MsgID
		case k <= old:
			t.Ended = created.Add(oldEnd.Sub(created) * time.Duration(k-1) / time.Duration(old))
		default:
			i := k - old
			t.Ended = week.Add(7 * 24 * time.Hour * time.Duration(i) / time.Duration(inWeek+1)).Add(-time.Duration(rng.IntN(3600)) * time.Second)
		}
		if k > 1 {
			switch r := rng.IntN(20); {
			case r < 14:
				t.How = "files"
			case r < 19:
				t.How = "done"
			default:
				t.How = "skip"
			}
			if t.How != "skip" {
				t.Note = notes[rng.IntN(len(notes))]
			}
		}
		var changed []int
		switch t.How {
		case "start":
			for d := range nd {
				changed = append(changed, d)
			}
		case "files":
			changed = append(changed, rng.IntN(nd))
			if nd > 1 && rng.IntN(5) == 0 {
				changed = append(changed, (changed[0]+1)%nd)
			}
		}
		for _, d := range changed {
			vers[d]++
			doc := bc.docs[d]
			t.Versions = append(t.Versions, store.VersionRef{Doc: doc.ID, Number: vers[d]})
			ctype := map[string]string{".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
				".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".pdf": "application/pdf"}[filepath.Ext(doc.Name)]
			bc.versions = append(bc.versions, &store.Version{Doc: doc.ID, Number: vers[d], Turn: k, Author: t.EndedBy, MsgID: t.MsgID, Time: t.Ended,
				Blob:     mail.Blob{Digest: fmt.Sprintf("%016x%016x%016x%016x", rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64()), Size: 20_000 + rng.Int64N(2_000_000)},
				Filename: doc.Name, ContentType: ctype})
		}
		bc.turns = append(bc.turns, t)
		last = t.Ended
	}
	c.Turn, c.TurnParty, c.TurnSince = ended+1, ended%2, last
	switch r := rng.IntN(35); {
	case r == 0:
		c.State, c.Wrapped = store.StateWrapped, last.Add(time.Hour)
	case r < 2:
		c.DeadlineDate = tickAt.AddDate(0, 0, -1-rng.IntN(14)).Format(time.DateOnly)
	case r < 6:
		c.DeadlineDate = tickAt.AddDate(0, 0, rng.IntN(45)).Format(time.DateOnly)
	}
	if c.DeadlineDate != "" {
		d, _ := time.Parse(time.DateOnly, c.DeadlineDate)
		c.Deadline = d.AddDate(0, 0, 1) // the end of that day, in UTC
	}
	return bc
}

// seededTick returns the turnmail.db in dir that holds w, and what the
// tick is to do with it, seeding it first when it is not there (or was
// seeded by another tickSeedVersion). The seeding runs in a process of its
// own, the test binary running TestSeedTick: writing a million
// collaborations grows the heap to a GB or more, and the Go runtime keeps
// tens of MB of that heap's bookkeeping, which would count in the peak RSS
// of a tick measured in the same process. The tick's process starts as
// turnmail serve does after a restart, on a store another process wrote.
func seededTick(b *testing.B, dir string, w tickWorld) (path string, want tickWant) {
	b.Helper()
	path = tickPath(dir, w)
	if want, ok := readSeeded(b, path); ok {
		b.Logf("seeded store %s: reused", path)
		return path, want
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSeedTick$", "-test.v", "-test.timeout=0")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%d:%d", seedEnv, dir, w.people, w.collabs))
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("seeding process: %v\n%s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		if i := strings.Index(line, "seeded store"); i >= 0 {
			b.Log(strings.TrimSpace(line[i:]))
		}
	}
	want, ok := readSeeded(b, path)
	if !ok {
		b.Fatalf("the seeding process left no %s:\n%s", path, out)
	}
	return path, want
}

// seedEnv names the variable that makes TestSeedTick seed: dir:people:collabs.
const seedEnv = "TURNMAIL_TICK_SEED"

// TestSeedTick is BenchmarkTickSummaries's seeding process (seededTick);
// run by itself it skips.
func TestSeedTick(t *testing.T) {
	v := os.Getenv(seedEnv)
	if v == "" {
		t.Skipf("the seeding process of BenchmarkTickSummaries, with %s set", seedEnv)
	}
	var w tickWorld
	f := strings.Split(v, ":")
	if len(f) < 3 {
		t.Fatalf("%s=%q: want dir:people:collabs", seedEnv, v)
	}
	if _, err := fmt.Sscanf(f[len(f)-2]+" "+f[len(f)-1], "%d %d", &w.people, &w.collabs); err != nil {
		t.Fatalf("%s=%q: %v", seedEnv, v, err)
	}
	seedTick(t, strings.Join(f[:len(f)-2], ":"), w)
}

// tickPath is where w's store is seeded in dir.
func tickPath(dir string, w tickWorld) string {
	return filepath.Join(dir, fmt.Sprintf("tick-v%d-%d-%d.db", tickSeedVersion, w.people, w.collabs))
}

// readSeeded returns what the tick is to do with the store at path, if it
// was seeded whole.
func readSeeded(tb testing.TB, path string) (want tickWant, ok bool) {
	tb.Helper()
	data, err := os.ReadFile(path + ".json")
	if errors.Is(err, fs.ErrNotExist) {
		return want, false
	} else if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(data, &want); err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		return want, false
	}
	return want, true
}

// seedTick writes w into a turnmail.db in dir, through the store, with
// what the tick is to do with it beside it (path.json), and renames it
// into place once it is whole.
//
// The collaborations go in in id order, many thousand a transaction, so
// that the buckets keyed by id (collabs, participants, turns, documents,
// versions) grow at their end; the members index grows at random places,
// as it does in use. With the collaborations go the reminder markers of the
// triggers that passed before the tick a minute before tickAt, and the due
// index without the entries of those triggers, as that tick left it; then,
// people in address order, their settings, the markers of their last four
// weeks' summaries (pruned after 30 days) and the marker of the day's
// pruning: what a gateway that ran ticks every minute would hold.
func seedTick(b testing.TB, dir string, w tickWorld) {
	b.Helper()
	path := tickPath(dir, w)
	var want tickWant
	began := time.Now()
	part := path + ".part"
	os.Remove(part)
	st, err := store.Open(part, nil)
	if err != nil {
		b.Fatal(err)
	}
	eng := workflow.New(st, benchTagger(b), tickConfig, nil)

	ids := make([]string, w.collabs)
	for j := range ids {
		ids[j] = cid(j)
	}
	order := make([]int, w.collabs)
	for j := range order {
		order[j] = j
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(ids[a], ids[b]) })

	seats := make([]int32, w.people)  // memberships of each person
	active := make([]int32, w.people) // in active collaborations
	lines := make([]struct{ week, waiting int32 }, w.people)
	const perTx = 20_000
	for first := 0; first < len(order); first += perTx {
		err := st.Update(func(tx *store.Tx) error {
			for _, j := range order[first:min(first+perTx, len(order))] {
				bc := w.collab(j, ids[j])
				if err := putBenchCollab(tx, eng, bc); err != nil {
					return err
				}
				want.Collabs++
				want.Memberships += len(bc.people)
				for _, x := range bc.seats {
					seats[x]++
				}
				if bc.c.State != store.StateActive {
					continue
				}
				want.Active++
				for i, x := range bc.seats {
					active[x]++
					if bc.week {
						lines[x].week++
					}
					if p := bc.people[i]; p.Party == bc.c.TurnParty && p.Role == store.RoleLeader {
						lines[x].waiting++
					}
				}
				now, before := eng.ReminderKeys(bc.c, tickAt), eng.ReminderKeys(bc.c, tickAt.Add(-tickBefore))
				want.Reminders += len(now) - len(before)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	ids, order = nil, nil

	people := make([]int, w.people)
	addrs := make([]string, w.people)
	for x := range people {
		people[x] = x
		addrs[x], _, _ = w.person(x)
	}
	slices.SortFunc(people, func(a, b int) int { return strings.Compare(addrs[a], addrs[b]) })
	for first := 0; first < len(people); first += perTx {
		err := st.Update(func(tx *store.Tx) error {
			for _, x := range people[first:min(first+perTx, len(people))] {
				p := w.personRecord(x, addrs[x])
				if p != nil {
					if err := tx.PutPerson(p); err != nil {
						return err
					}
				}
				if active[x] == 0 || p != nil && p.SummaryOff {
					continue
				}
				want.Summaries++
				want.Lines += int(active[x])
				want.WeekLines += int(lines[x].week)
				want.Waiting += int(lines[x].waiting)
				for n := 1; n <= 4; n++ {
					slot := tickAt.AddDate(0, 0, -7*n)
					if _, err := tx.MarkOnce(workflow.SummaryKey(addrs[x], slot), slot); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for x := range people {
		if seats[x] > 0 {
			want.People++
		}
	}
	err = st.Update(func(tx *store.Tx) error {
		_, err := tx.MarkOnce(workflow.PruneKey(tickAt), tickAt.Add(-8*time.Hour))
		return err
	})
	if err == nil {
		err = st.Close()
	}
	if err != nil {
		b.Fatal(err)
	}
	data, err := json.Marshal(want)
	if err == nil {
		err = os.WriteFile(path+".json", data, 0o600)
	}
	if err == nil {
		err = os.Rename(part, path)
	}
	if err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded store %s: %d MB, in %s", path, fi.Size()/1e6, time.Since(began).Round(time.Second))
}

// putBenchCollab writes bc, the markers of its reminders that the tick a
// minute before tickAt would have sent, and its entries in the due index
// as that tick left them: without those of the reminders it sent.
func putBenchCollab(tx *store.Tx, eng *workflow.Engine, bc *benchCollab) error {
	if err := tx.PutCollab(bc.c); err != nil {
		return err
	}
	for _, p := range bc.people {
		if err := tx.PutParticipant(bc.c.ID, p); err != nil {
			return err
		}
	}
	for _, d := range bc.docs {
		if err := tx.PutDocument(bc.c.ID, d); err != nil {
			return err
		}
	}
	for _, v := range bc.versions {
		if err := tx.PutVersion(bc.c.ID, v); err != nil {
			return err
		}
	}
	for _, t := range bc.turns {
		if err := tx.PutTurn(bc.c.ID, t); err != nil {
			return err
		}
	}
	if bc.c.State != store.StateActive {
		return nil
	}
	return eng.Reminded(tx, bc.c, tickAt.Add(-tickBefore))
}

// benchTagger is the benchmarks' tagger of addresses.
func benchTagger(b testing.TB) *tag.Tagger {
	b.Helper()
	t, err := tag.NewTagger("collab@gw.test", []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	return t
}
