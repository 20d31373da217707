package sniff

// reader is a bounds-checked cursor over a ClientHello body; every read
// reports failure instead of panicking on short input.
type reader struct{ b []byte }

func (r *reader) u8() (int, bool) {
	if len(r.b) < 1 {
		return 0, false
	}
	v := int(r.b[0])
	r.b = r.b[1:]
	return v, true
}

func (r *reader) u16() (int, bool) {
	if len(r.b) < 2 {
		return 0, false
	}
	v := int(r.b[0])<<8 | int(r.b[1])
	r.b = r.b[2:]
	return v, true
}

func (r *reader) bytes(n int) ([]byte, bool) {
	if len(r.b) < n {
		return nil, false
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v, true
}

// vec8 and vec16 read a length-prefixed vector.
func (r *reader) vec8() (reader, bool) {
	n, ok := r.u8()
	if !ok {
		return reader{}, false
	}
	b, ok := r.bytes(n)
	return reader{b}, ok
}

func (r *reader) vec16() (reader, bool) {
	n, ok := r.u16()
	if !ok {
		return reader{}, false
	}
	b, ok := r.bytes(n)
	return reader{b}, ok
}

func parseClientHello(body []byte) (Hello, error) {
	r := reader{body}
	if _, ok := r.bytes(2 + 32); !ok { // legacy_version, random
		return Hello{}, malformed("short version or random")
	}
	sid, ok := r.vec8()
	if !ok || len(sid.b) > 32 {
		return Hello{}, malformed("bad session id")
	}
	suites, ok := r.vec16()
	if !ok || len(suites.b) == 0 || len(suites.b)%2 != 0 {
		return Hello{}, malformed("bad cipher suites")
	}
	comp, ok := r.vec8()
	if !ok || len(comp.b) == 0 {
		return Hello{}, malformed("bad compression methods")
	}
	var h Hello
	if len(r.b) == 0 {
		return h, nil // no extensions at all: legal, and means no SNI
	}
	exts, ok := r.vec16()
	if !ok || len(r.b) != 0 {
		return Hello{}, malformed("bad extensions length")
	}
	seen := map[int]bool{}
	for len(exts.b) > 0 {
		typ, ok1 := exts.u16()
		data, ok2 := exts.vec16()
		if !ok1 || !ok2 {
			return Hello{}, malformed("truncated extension")
		}
		// A duplicate server_name could make us and the upstream disagree
		// on the name; RFC 8446 §4.2 forbids duplicates anyway.
		if seen[typ] {
			return Hello{}, malformed("duplicate extension %d", typ)
		}
		seen[typ] = true
		var err error
		switch typ {
		case extServerName:
			h.ServerName, err = parseSNI(data)
		case extALPN:
			h.ALPN, err = parseALPN(data)
		}
		if err != nil {
			return Hello{}, err
		}
	}
	return h, nil
}

func parseSNI(r reader) (string, error) {
	list, ok := r.vec16()
	if !ok || len(r.b) != 0 || len(list.b) == 0 {
		return "", malformed("bad server_name list")
	}
	name := ""
	for len(list.b) > 0 {
		typ, ok1 := list.u8()
		n, ok2 := list.u16()
		b, ok3 := list.bytes(n)
		if !ok1 || !ok2 || !ok3 {
			return "", malformed("truncated server_name entry")
		}
		if typ != sniHostName {
			continue
		}
		if name != "" {
			return "", malformed("more than one host_name in server_name")
		}
		if len(b) == 0 {
			return "", malformed("empty host_name")
		}
		for _, c := range b {
			// Only printable ASCII without spaces: anything else cannot be
			// a DNS name and would only serve to confuse comparisons.
			if c <= ' ' || c >= 0x7f {
				return "", malformed("host_name has byte 0x%02x", c)
			}
		}
		name = string(b)
	}
	return name, nil
}

func parseALPN(r reader) ([]string, error) {
	list, ok := r.vec16()
	if !ok || len(r.b) != 0 || len(list.b) == 0 {
		return nil, malformed("bad ALPN list")
	}
	var protos []string
	for len(list.b) > 0 {
		p, ok := list.vec8()
		if !ok || len(p.b) == 0 {
			return nil, malformed("bad ALPN protocol name")
		}
		protos = append(protos, string(p.b))
	}
	return protos, nil
}
