package server

// An HTTP/2 request runs on a goroutine of its own, whose stack starts
// small (2 KiB, or the average the runtime last measured over all its
// goroutines, most of them idle and shallow). Foxhole's layers and
// connect-go's need more, and the stack then grew several times in every
// call, each time copying it whole: a tenth of the server's CPU on HTTP/2.
// growStack makes the one growth that suffices at the top of the call,
// where the stack holds little to copy. (HTTP/1.1 serves a connection's
// requests on one goroutine, whose stack grows once.)

// stackReserve is the frame that growStack takes: the stack then has room
// for it on top of what the call had used, which the runtime rounds up to
// the next power of two.
const stackReserve = 8 << 10

// growStack takes a frame of stackReserve bytes and returns.
//
//go:noinline
func growStack() byte {
	var frame [stackReserve]byte
	return frame[growIndex]
}

// growIndex is read at run time, so that the frame cannot be elided.
var growIndex = 0
