package reply

import (
	"testing"
)

func TestCutSignOff(t *testing.T) {
	tests := []struct {
		name, text, body, off string
	}{
		{"regards and a signature block", "Signed.\n\nRegards,\nJane Doe\nSenior Counsel\nACME Corp.\n+1 555 0100", "Signed.", "Regards,\nJane Doe\nSenior Counsel\nACME Corp.\n+1 555 0100"},
		{"name on the closing line", "Signed.\n\nCheers, Bob", "Signed.", "Cheers, Bob"},
		{"two closing lines", "Signed.\n\nThanks again!\n\nBest,\nJane", "Signed.", "Thanks again!\n\nBest,\nJane"},
		{"german", "Passt.\n\nMit freundlichen Grüßen\n\nJana Doe", "Passt.", "Mit freundlichen Grüßen\n\nJana Doe"},
		{"russian", "Да.\n\nС уважением,\nИван", "Да.", "С уважением,\nИван"},
		{"japanese", "承知しました。\n\nよろしくお願いいたします。\n山田", "承知しました。", "よろしくお願いいたします。\n山田"},
		{"chinese two lines", "收到。\n\n此致\n敬礼\n王伟", "收到。", "此致\n敬礼\n王伟"},
		{"emoji", "Ok.\n\nThanks! 🙏", "Ok.", "Thanks! 🙏"},
		{"sentence after the closing line", "Ok.\n\nThanks,\nI will sign it tomorrow.", "Ok.\n\nThanks,\nI will sign it tomorrow.", ""},
		{"postscript after the name", "Ok.\n\nBest,\nJane\n\nP.S. file attached", "Ok.\n\nBest,\nJane\n\nP.S. file attached", ""},
		{"thanks with more words", "Ok.\n\nThanks for the quick answer", "Ok.\n\nThanks for the quick answer", ""},
		{"lower-case words after thanks", "Ok.\n\nThanks, that works", "Ok.\n\nThanks, that works", ""},
		{"long tail", "Ok.\n\nBest,\n1\n2\n3\n4\n5\n6\n7\n8", "Ok.\n\nBest,\n1\n2\n3\n4\n5\n6\n7\n8", ""},
		{"only a sign-off", "Thanks!", "", "Thanks!"},
		{"none", "We accept clause 4.", "We accept clause 4.", ""},
		{"thanks under a greeting", "Hi John,\n\nThanks!\n\nBest,\nAnna", "Hi John,\n\nThanks!", "Best,\nAnna"},
		{"thanks under a greeting, de", "Hallo,\n\nVielen Dank!\n\nViele Grüße\nAnna", "Hallo,\n\nVielen Dank!", "Viele Grüße\nAnna"},
		{"thanks under a greeting, bare name", "Olá Rui,\n\nObrigado.\n\nInês", "Olá Rui,\n\nObrigado.", "Inês"},
		{"thanks alone above a closing", "Thanks!\n\nBest,\nAnna", "Thanks!", "Best,\nAnna"},
		{"bare name", "Fixed in main.\n\nRuth", "Fixed in main.", "Ruth"},
		{"bare full name", "Fixed in main.\n\nRuth Anne Miller", "Fixed in main.", "Ruth Anne Miller"},
		{"one-word answer", "Fixed in main?\n\nAgreed", "Fixed in main?\n\nAgreed", ""},
		{"answer under a greeting", "Hi John,\n\nApproved", "Hi John,\n\nApproved", ""},
		{"only a name", "Ruth", "Ruth", ""},
		{"name with particles", "Klopt.\n\nJan van der Berg", "Klopt.", "Jan van der Berg"},
		{"hebrew name", "מעולה, נתראה.\n\nרונית", "מעולה, נתראה.", "רונית"},
		{"hebrew answer", "מתאים לך?\n\nכן", "מתאים לך?\n\nכן", ""},
		{"announced by a colon", "The one thing we still need from the shop is:\n\nMilk", "The one thing we still need from the shop is:\n\nMilk", ""},
		{"a sentence, not a name", "Is it fixed?\n\nNo.", "Is it fixed?\n\nNo.", ""},
		{"lower-case words", "Is it fixed?\n\nnot yet", "Is it fixed?\n\nnot yet", ""},
		{"address alone", "收到。\n\n\nlina@foxmail.com", "收到。", "lina@foxmail.com"},
		{"name and address", "Done.\n\nLina Wang <lina.wang@example.com>", "Done.", "Lina Wang <lina.wang@example.com>"},
		{"name and title without a number", "Done.\n\nLina Wang\nSales", "Done.\n\nLina Wang\nSales", ""},
		{"name, title, phone", "Done.\n\nLina Wang\nSales\n+49 30 1234", "Done.", "Lina Wang\nSales\n+49 30 1234"},
		{"closing and disclaimer", "Ok.\n\nRegards,\nJane\n\nCONFIDENTIALITY NOTICE: This e-mail and any attachments are intended solely for the addressee.",
			"Ok.", "Regards,\nJane\n\nCONFIDENTIALITY NOTICE: This e-mail and any attachments are intended solely for the addressee."},
		{"disclaimer without a sign-off", "Ok, this is confidential: do not forward it to anyone outside the team please.",
			"Ok, this is confidential: do not forward it to anyone outside the team please.", ""},
		{"longer closing", "Ok.\n\nCom os melhores cumprimentos,\nInês Costa", "Ok.", "Com os melhores cumprimentos,\nInês Costa"},
		{"arabic comma", "تم.\n\nمع خالص التحية،\nسارة", "تم.", "مع خالص التحية،\nسارة"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, off := cutSignOff(tt.text)
			if body != tt.body || off != tt.off {
				t.Errorf("cutSignOff(%q)\n got %q, %q\nwant %q, %q", tt.text, body, off, tt.body, tt.off)
			}
		})
	}
}

func TestIsMobileTail(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"Sent from my iPhone", true},
		{"Sent from my Samsung Galaxy smartphone.", true},
		{"Von meinem iPhone gesendet", true},
		{"Odesláno z iPhonu", true},
		{"iPhoneから送信", true},
		{"从我的iPhone发送", true},
		{"내 iPhone에서 보냄", true},
		{"Get Outlook for iOS<https://aka.ms/o0ukef>", true},
		{"Outlook für Android herunterladen", true},
		{"Sent from Mail for Windows", true},
		{"Sent with Proton Mail secure email.", true},
		{"Sent from my TI-85", true},
		{"Sent from my cell, please excuse any typos.", true},
		{"(Sent from mobile device)", true},
		{"Sent with Airmail", true},
		{"Von meinem Mobilgerät gesendet", true},
		{"從我的 iPhone 傳送", true},
		{"I'll check it on my iPhone later", false},
		{"Sent from my iPhone, as you asked, the draft follows below this line", false},
		{"Can you send it from your iPhone?", false},
	}
	for _, tt := range tests {
		if got := isMobileTail(tt.line); got != tt.want {
			t.Errorf("isMobileTail(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

func TestPhraseMatcher(t *testing.T) {
	words := newPhraseMatcher([]string{"a écrit", "wrote", "写道", "forward"}, false)
	prefix := newPhraseMatcher([]string{"forward"}, true)
	tests := []struct {
		m    *phraseMatcher
		s    string
		want bool
	}{
		{words, "Le 5 mars, Marie a\u00a0écrit :", true},
		{words, "Bob WROTE:", true},
		{words, "Bobwrote:", false},
		{words, "rewrote it", false},
		{words, "王伟 于2024年3月5日写道：", true},
		{words, "Forwarded message", false},
		{prefix, "---------- Forwarded message ---------", true},
		{prefix, "unforwarded", false},
	}
	for _, tt := range tests {
		if got := tt.m.match(tt.s); got != tt.want {
			t.Errorf("match(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}
