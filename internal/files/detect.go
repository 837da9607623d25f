package files

import (
	"mime"
	"path"
	"strings"

	"github.com/gabriel-vasile/mimetype"
)

// HeadBytes is how much of a file's beginning its type is recognised from.
const HeadBytes = 3072

// DetectType returns the stored type of a file: what its first bytes say,
// unless the type the client claimed (or, without one, the one its name's
// extension suggests) is a more specific kind of it, such as JSON claimed
// of bytes that read as plain text, or anything claimed of bytes that say
// nothing; application/octet-stream when nothing says more. A PNG is
// image/png whatever was claimed.
func DetectType(head []byte, claimed, name string) string {
	detected := mimetype.Lookup("application/octet-stream")
	if len(head) > 0 {
		detected = mimetype.Detect(head)
	}
	for _, c := range []string{claimed, mime.TypeByExtension(strings.ToLower(path.Ext(name)))} {
		if c == "" {
			continue
		}
		if refines(c, detected) {
			return c
		}
		// The first candidate that says anything decides: an extension is
		// not asked when the client claimed a type.
		break
	}
	return detected.String()
}

// refines reports whether the media type ct is detected's type or a more
// specific kind of it in the detection library's hierarchy. A type the
// library does not know refines only bytes it cannot place, and text.
func refines(ct string, detected *mimetype.MIME) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	known := mimetype.Lookup(mt)
	if detected.Is("application/octet-stream") {
		// Bytes the library cannot place are no format it knows: random
		// bytes named .jpg are not a JPEG.
		return known == nil
	}
	if known == nil {
		// A text format the library does not know (text/markdown) still
		// says more than plain text.
		return strings.HasPrefix(mt, "text/") && detected.Is("text/plain")
	}
	for m := known; m != nil; m = m.Parent() {
		if m.Is(detected.String()) {
			return true
		}
	}
	return false
}
