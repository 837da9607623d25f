// Package inmem holds the in-process implementations of the backends that
// several processes otherwise share through Valkey: Cache (cache.Cache),
// Hub (pubsub.Hub) and Limiter (ratelimit.Limiter). A single process uses
// them when FOXHOLE_VALKEY_URL is unset; the Valkey limiter also falls back
// on a Limiter while Valkey is unreachable.
package inmem
