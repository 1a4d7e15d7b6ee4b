package tag_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/turnmail/turnmail/mail/tag"
)

// ExampleTagger gives a participant an address of their own: replies to it
// name the collaboration and the participant, signed with the gateway's
// secret, so a tag made up or copied onto another participant is refused.
func ExampleTagger() {
	tg, err := tag.NewTagger("collab@gw.example", []byte("a secret of at least 16 bytes"))
	if err != nil {
		log.Fatal(err)
	}
	addr := tg.Address("k7p2qz", "p3")
	kind, cid, pid := tg.Classify("Bea Lind <" + addr + ">")
	fmt.Println(kind, cid, pid)

	// The same tag with another participant's id: the signature no longer
	// matches.
	forged := strings.Replace(addr, ".p3.", ".p1.", 1)
	kind, _, _ = tg.Classify(forged)
	fmt.Println(kind)

	for _, a := range []string{"Collab@GW.example", "postmaster@gw.example", "bea@globex.example"} {
		kind, _, _ := tg.Classify(a)
		fmt.Println(a, kind)
	}
	// Output:
	// tagged k7p2qz p3
	// unknown
	// Collab@GW.example gateway
	// postmaster@gw.example postmaster
	// bea@globex.example foreign
}
