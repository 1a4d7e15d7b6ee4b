package workflow

import (
	"path"
	"strings"

	"github.com/turnmail/turnmail/store"
)

// programExts are the extensions of programs and scripts, as Gmail and
// Outlook block them: nobody negotiates a contract in one, a stranger's
// "invoice.pdf.exe" must not go out under the gateway's name, and mail
// carrying one is refused by the largest providers, so the handoff would
// bounce.
var programExts = map[string]bool{
	".ade": true, ".adp": true, ".apk": true, ".appx": true, ".bat": true, ".cab": true, ".chm": true,
	".cmd": true, ".com": true, ".cpl": true, ".dll": true, ".dmg": true, ".exe": true, ".hta": true,
	".ins": true, ".iso": true, ".isp": true, ".jar": true, ".jnlp": true, ".js": true, ".jse": true,
	".lib": true, ".lnk": true, ".mde": true, ".mjs": true, ".msc": true, ".msi": true, ".msix": true,
	".msp": true, ".mst": true, ".nsh": true, ".pif": true, ".ps1": true, ".scr": true, ".sct": true,
	".shb": true, ".sys": true, ".vb": true, ".vbe": true, ".vbs": true, ".vhd": true, ".vxd": true,
	".wsc": true, ".wsf": true, ".wsh": true, ".xll": true,
}

// isProgram reports whether a file name is a program's.
func isProgram(name string) bool {
	return programExts[strings.ToLower(path.Ext(strings.TrimRight(name, ". ")))]
}

// setAsidePrograms takes the programs out of the message's attachments,
// before any rule sees them.
func (d *delivery) setAsidePrograms() {
	kept := d.msg.Attachments[:0]
	for _, a := range d.msg.Attachments {
		if isProgram(a.Filename) {
			d.programs = append(d.programs, a)
			continue
		}
		kept = append(kept, a)
	}
	d.msg.Attachments = kept
}

// leftOut lists, for the sender, the parts of their mail that were not
// passed on as documents and why.
func (d *delivery) leftOut() []string {
	return leftOutLines(d.msg, d.programs)
}

// tellLeftOut tells participant p what of their mail was not passed on, if
// anything.
func (d *delivery) tellLeftOut(tx *store.Tx, s *state, p *store.Participant) error {
	if lines := d.leftOut(); len(lines) > 0 {
		return d.answer(tx, s, p, leftOutLetter(lines))
	}
	return nil
}
