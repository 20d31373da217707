package splice

// BufferPool lends the copy buffers Join uses to other copy loops, such as httputil.ReverseProxy's
// (its BufferPool field): without one, the reverse proxy allocates a fresh 32 KiB buffer for every
// response body, which was most of the bytes a proxied request cost.
var BufferPool bufferPool

type bufferPool struct{}

// Get returns a buffer of the default size.
func (bufferPool) Get() []byte { return *bufPool.Get().(*[]byte) }

// Put returns b to the pool; buffers of another size are dropped.
func (bufferPool) Put(b []byte) {
	if cap(b) != defaultBufSize {
		return
	}
	b = b[:defaultBufSize]
	bufPool.Put(&b)
}
