package realtime

// sendFunc is a Sink that holds nothing back: each event goes to the func
// as it is sent, the way the tests watch a session.
type sendFunc func(*Delivery) error

func (f sendFunc) Send(d *Delivery) error { return f(d) }
func (sendFunc) Flush() error             { return nil }
