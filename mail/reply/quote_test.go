package reply

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-message"
)

// replyCorpus returns the shared corpus directory (../shared/corpus beside the
// repository), skipping the test when it is absent, as in a user's clone.
func replyCorpus(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "corpus")
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Skipf("shared corpus not found at %s (only developer checkouts have ../shared): %v", dir, err)
	}
	return dir
}

// corpusCases returns the files matching pattern in the corpus that have an
// expected-output file beside them, by the name without extension.
func corpusCases(t *testing.T, pattern string) []string {
	t.Helper()
	dir := replyCorpus(t)
	paths, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		if strings.HasSuffix(p, ".expected.txt") {
			continue
		}
		if _, err := os.Stat(expectedPath(p)); err == nil {
			names = append(names, p)
		}
	}
	if len(names) == 0 {
		t.Fatalf("no %s with expected output in %s", pattern, dir)
	}
	return names
}

func expectedPath(p string) string {
	return strings.TrimSuffix(p, filepath.Ext(p)) + ".expected.txt"
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCorpusReplyBodies runs the body-only fixtures of discourse's
// email_reply_trimmer and github's email_reply_parser. Both trim quotes and
// signatures in one step, so they are compared with Extract, trimmed
// (corpus README, "Expected-output semantics"). email_reply_trimmer keeps a
// sign-off ("Best regards" / "Some One") that Extract cuts into rest:
// there the reply plus the start of what was cut must be the expectation.
func TestCorpusReplyBodies(t *testing.T) {
	for _, p := range corpusCases(t, "reply-body-*.txt") {
		t.Run(filepath.Base(p), func(t *testing.T) {
			got, rest := Extract(strings.TrimSpace(readFile(t, p)))
			want := strings.TrimSpace(readFile(t, expectedPath(p)))
			if !keptOrCut(got, rest, want) {
				t.Errorf("Extract:\n got %q\n cut %q\nwant %q", got, rest, want)
			}
		})
	}
}

// keptOrCut reports whether want is reply, or reply followed by the start of
// rest (a sign-off an upstream expectation keeps and Extract cuts),
// with the blank line Extract puts between them.
func keptOrCut(reply, rest, want string) bool {
	if reply == want {
		return true
	}
	tail, ok := strings.CutPrefix(want, reply)
	tail = strings.TrimLeft(tail, "\n")
	return ok && reply != "" && tail != "" && strings.HasPrefix(rest, tail)
}

// TestCorpusReplyMessages runs talon's standard replies: StripQuote of the
// first text/plain part must equal the expectation, trimmed. talon leaves
// signatures to a separate step, so "Sent from my iPhone" and Sparrow's "-- "
// block stay.
func TestCorpusReplyMessages(t *testing.T) {
	for _, p := range corpusCases(t, "reply-*.eml") {
		t.Run(filepath.Base(p), func(t *testing.T) {
			got, _ := StripQuote(firstPlainPart(t, p))
			want := strings.TrimSpace(readFile(t, expectedPath(p)))
			if strings.TrimSpace(got) != want {
				t.Errorf("StripQuote:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// firstPlainPart returns the decoded first text/plain part of the message in
// file p. Parts in a charset go-message cannot decode are returned as they
// are: the corpus replies are ASCII in such parts.
func firstPlainPart(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := message.Read(f)
	if err != nil && !message.IsUnknownCharset(err) {
		t.Fatalf("read message: %v", err)
	}
	var text string
	found := errors.New("found")
	err = m.Walk(func(_ []int, e *message.Entity, err error) error {
		if err != nil && !message.IsUnknownCharset(err) {
			return err
		}
		if ct, _, _ := e.Header.ContentType(); ct != "text/plain" && ct != "" || e.MultipartReader() != nil {
			return nil
		}
		b, err := io.ReadAll(e.Body)
		if err != nil {
			return err
		}
		text = string(b)
		return found
	})
	if !errors.Is(err, found) {
		t.Fatalf("no text/plain part in %s: %v", p, err)
	}
	return text
}

func TestStripQuote(t *testing.T) {
	tests := []struct {
		name, body, reply, rest string
	}{{
		name: "outlook english",
		body: "Sounds good, see you then.\r\n\r\nJane\r\n\r\n" +
			"________________________________\r\n" +
			"From: Bob Smith <bob@example.com>\r\n" +
			"Sent: Tuesday, March 5, 2024 9:12 AM\r\n" +
			"To: Jane Doe <jane@example.org>\r\n" +
			"Subject: RE: contract\r\n\r\nCan we meet on Friday?\r\n",
		reply: "Sounds good, see you then.\n\nJane",
		rest: "________________________________\nFrom: Bob Smith <bob@example.com>\nSent: Tuesday, March 5, 2024 9:12 AM\n" +
			"To: Jane Doe <jane@example.org>\nSubject: RE: contract\n\nCan we meet on Friday?",
	}, {
		name: "outlook german banner",
		body: "Passt, danke.\n\n-----Ursprüngliche Nachricht-----\nVon: Max Muster <max@example.de>\n" +
			"Gesendet: Montag, 4. März 2024 10:00\nAn: Erika <erika@example.de>\nBetreff: Vertrag\n\nAnbei der Entwurf.\n",
		reply: "Passt, danke.",
		rest: "-----Ursprüngliche Nachricht-----\nVon: Max Muster <max@example.de>\nGesendet: Montag, 4. März 2024 10:00\n" +
			"An: Erika <erika@example.de>\nBetreff: Vertrag\n\nAnbei der Entwurf.",
	}, {
		name:  "outlook german block without banner",
		body:  "Passt.\n\nVon: Max Muster <max@example.de>\nGesendet: Montag, 4. März 2024 10:00\nAn: Erika\nBetreff: Vertrag\n\nText\n",
		reply: "Passt.",
		rest:  "Von: Max Muster <max@example.de>\nGesendet: Montag, 4. März 2024 10:00\nAn: Erika\nBetreff: Vertrag\n\nText",
	}, {
		name: "outlook french block with no-break spaces",
		body: "Merci, c'est noté.\n\nDe\u00a0: Marie Curie <marie@example.fr>\nEnvoyé\u00a0: lundi 4 mars 2024 10:00\n" +
			"À\u00a0: Pierre <pierre@example.fr>\nObjet\u00a0: Contrat\n\nBonjour,\n",
		reply: "Merci, c'est noté.",
		rest:  "De\u00a0: Marie Curie <marie@example.fr>\nEnvoyé\u00a0: lundi 4 mars 2024 10:00\nÀ\u00a0: Pierre <pierre@example.fr>\nObjet\u00a0: Contrat\n\nBonjour,",
	}, {
		name:  "outlook french banner",
		body:  "D'accord.\n\n-----Message d'origine-----\nDe : Marie\nEnvoyé : lundi 4 mars 2024 10:00\nÀ : Pierre\nObjet : Contrat\n",
		reply: "D'accord.",
		rest:  "-----Message d'origine-----\nDe : Marie\nEnvoyé : lundi 4 mars 2024 10:00\nÀ : Pierre\nObjet : Contrat",
	}, {
		name: "outlook block with wrapped To and bold names",
		body: "Agreed.\n\n*From:* Bob <bob@example.com>\n*Sent:* Tuesday, March 5, 2024 9:12 AM\n" +
			"*To:* Jane <jane@example.org>; Alice <alice@example.org>;\nCarol <carol@example.org>\n*Subject:* contract\n\nold\n",
		reply: "Agreed.",
		rest: "*From:* Bob <bob@example.com>\n*Sent:* Tuesday, March 5, 2024 9:12 AM\n*To:* Jane <jane@example.org>; Alice <alice@example.org>;\n" +
			"Carol <carol@example.org>\n*Subject:* contract\n\nold",
	}, {
		name: "gmail attribution wrapped over two lines",
		body: "Yes, v3 is fine.\n\nOn Tue, Mar 5, 2024 at 9:12 AM Robert Smith-Jones <\nrobert.smith-jones@example.com> wrote:\n\n" +
			"> Here is v3.\n>\n> Robert\n",
		reply: "Yes, v3 is fine.",
		rest:  "On Tue, Mar 5, 2024 at 9:12 AM Robert Smith-Jones <\nrobert.smith-jones@example.com> wrote:\n\n> Here is v3.\n>\n> Robert",
	}, {
		name:  "japanese gmail",
		body:  "了解しました。\n\n2024年3月5日(火) 9:12 山田太郎 <taro@example.jp>のメッセージ:\n\n> 契約書を送ります。\n",
		reply: "了解しました。",
		rest:  "2024年3月5日(火) 9:12 山田太郎 <taro@example.jp>のメッセージ:\n\n> 契約書を送ります。",
	}, {
		name:  "chinese ios",
		body:  "收到，谢谢。\n\n在 2024年3月5日，上午9:12，王伟 <wei@example.cn> 写道：\n\n> 请查收附件。\n",
		reply: "收到，谢谢。",
		rest:  "在 2024年3月5日，上午9:12，王伟 <wei@example.cn> 写道：\n\n> 请查收附件。",
	}, {
		name:  "russian apple mail",
		body:  "Спасибо, посмотрю.\n\n5 марта 2024 г., в 9:12, Иван Петров <ivan@example.ru> написал(а):\n\n> Новая версия во вложении.\n",
		reply: "Спасибо, посмотрю.",
		rest:  "5 марта 2024 г., в 9:12, Иван Петров <ivan@example.ru> написал(а):\n\n> Новая версия во вложении.",
	}, {
		name:  "german name after verb",
		body:  "Danke!\n\nAm 05.03.2024 um 09:12 schrieb Max Muster <max@example.de>:\n> Anbei.\n",
		reply: "Danke!",
		rest:  "Am 05.03.2024 um 09:12 schrieb Max Muster <max@example.de>:\n> Anbei.",
	}, {
		name:  "attribution itself quoted",
		body:  "Fine by me.\n> On 5 Mar 2024, at 09:12, Bob <bob@example.com> wrote:\n>\n> Draft attached.\n",
		reply: "Fine by me.",
		rest:  "> On 5 Mar 2024, at 09:12, Bob <bob@example.com> wrote:\n>\n> Draft attached.",
	}, {
		name:  "attribution without quote below",
		body:  "Fine.\n\nOn Tue, Mar 5, 2024 at 9:12 AM Bob <bob@example.com> wrote:\nDraft attached.\n",
		reply: "Fine.",
		rest:  "On Tue, Mar 5, 2024 at 9:12 AM Bob <bob@example.com> wrote:\nDraft attached.",
	}, {
		name:  "short attribution before a quote",
		body:  "Agreed.\n\nBob wrote:\n> Shall we sign?\n",
		reply: "Agreed.",
		rest:  "Bob wrote:\n> Shall we sign?",
	}, {
		name:  "top-poster with one quoted line",
		body:  "About your point\n> we cannot accept clause 4\nI think we can after all.\n\nJane\n",
		reply: "About your point\n> we cannot accept clause 4\nI think we can after all.\n\nJane",
	}, {
		name: "inline reply",
		body: "On Tue, Mar 5, 2024 at 9:12 AM Bob <bob@example.com> wrote:\n> Can you take clause 4?\n\nYes.\n\n" +
			"> And clause 7?\n> It is long.\n\nNo, that one stays.\n\n> Thanks\n",
		reply: "Yes.\n\nNo, that one stays.",
		rest: "On Tue, Mar 5, 2024 at 9:12 AM Bob <bob@example.com> wrote:\n> Can you take clause 4?\n> And clause 7?\n" +
			"> It is long.\n> Thanks",
	}, {
		name:  "bottom-poster",
		body:  "On 05/03/2024 09:12, Bob wrote:\n> Draft attached.\n> Bob\n\nLooks good.\n",
		reply: "Looks good.",
		rest:  "On 05/03/2024 09:12, Bob wrote:\n> Draft attached.\n> Bob",
	}, {
		name:  "quote without attribution",
		body:  "Done.\n\n> one\n> two\n> three\n",
		reply: "Done.",
		rest:  "> one\n> two\n> three",
	}, {
		name:  "sentence ending in wrote",
		body:  "This is what I wrote:\nthe clause stays.\n",
		reply: "This is what I wrote:\nthe clause stays.",
	}, {
		name:  "prose line before a wrapped attribution",
		body:  "See below.\nOn Tue, Mar 5, 2024 at 9:12 AM Robert <\nrobert@example.com> wrote:\n> x\n",
		reply: "See below.",
		rest:  "On Tue, Mar 5, 2024 at 9:12 AM Robert <\nrobert@example.com> wrote:\n> x",
	}, {
		name:  "closing lines right above the attribution",
		body:  "Thanks,\nJane\nOn Tue, Mar 5, 2024 at 9:12 AM Bob <bob@example.com> wrote:\n> x\n",
		reply: "Thanks,\nJane",
		rest:  "On Tue, Mar 5, 2024 at 9:12 AM Bob <bob@example.com> wrote:\n> x",
	}, {
		name:  "attribution wrapped over three lines",
		body:  "Yes.\n\nOn Tue, Mar 5, 2024 at 9:12 AM Robert Smith-Jones, ACME Corporation Legal\nDepartment <\nrobert@example.com> wrote:\n> x\n",
		reply: "Yes.",
		rest:  "On Tue, Mar 5, 2024 at 9:12 AM Robert Smith-Jones, ACME Corporation Legal\nDepartment <\nrobert@example.com> wrote:\n> x",
	}, {
		name:  "own from line is not a block",
		body:  "From: the legal team\nWe accept.\n",
		reply: "From: the legal team\nWe accept.",
	}, {
		name:  "rule without header block",
		body:  "Part one\n\n---\n\nPart two\n",
		reply: "Part one\n\n---\n\nPart two",
	}, {
		name:  "only a forwarded block",
		body:  "-----Original Message-----\nFrom: Bob\nSent: Monday\nTo: Jane\n\nHello\n",
		reply: "",
		rest:  "-----Original Message-----\nFrom: Bob\nSent: Monday\nTo: Jane\n\nHello",
	}, {
		name: "empty",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply, rest := StripQuote(tt.body)
			if reply != tt.reply {
				t.Errorf("reply:\n got %q\nwant %q", reply, tt.reply)
			}
			if rest != tt.rest {
				t.Errorf("rest:\n got %q\nwant %q", rest, tt.rest)
			}
		})
	}
}
