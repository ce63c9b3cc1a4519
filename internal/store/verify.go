package store

import (
	"encoding/binary"
	"fmt"
	"os"
)

// treeVerifier walks the B+tree of a bbolt file through ReadAt (not the
// memory map) and checks what bbolt dereferences without checking: every
// reachable page lies below the high-water mark, is referenced once, has
// the right type and header id, and every element's key and value lie
// inside its page. After it passes, bbolt (including tx.Check, which runs
// in a goroutine of its own) cannot fault on this file.
type treeVerifier struct {
	f    *os.File
	path string
	ps   uint64 // page size
	hwm  uint64 // pages in use
	seen map[uint64]bool
}

const (
	branchFlag     = 0x01
	leafFlag       = 0x02
	bucketLeafFlag = 0x01
	elemSize       = 16 // branch and leaf page elements are both 16 bytes
	bucketHdrSize  = 16 // InBucket: root pgid, sequence
	maxTreeDepth   = 64
)

func (v *treeVerifier) errorf(format string, args ...any) error {
	return corrupt(v.path, format, args...)
}

// readPage returns the whole span (with overflow pages) of page id.
func (v *treeVerifier) readPage(id uint64) ([]byte, error) {
	if id < 2 || id >= v.hwm {
		return nil, v.errorf("page %d outside [2, %d)", id, v.hwm)
	}
	if v.seen[id] {
		return nil, v.errorf("page %d referenced twice", id)
	}
	var hdr [pageHeaderSize]byte
	if _, err := v.f.ReadAt(hdr[:], int64(id*v.ps)); err != nil {
		return nil, fmt.Errorf("store: read %s: %w", v.path, err)
	}
	ne := binary.NativeEndian
	if hid := ne.Uint64(hdr[0:]); hid != id {
		return nil, v.errorf("page %d has header id %d", id, hid)
	}
	overflow := uint64(ne.Uint32(hdr[12:]))
	if id+overflow >= v.hwm {
		return nil, v.errorf("page %d overflows (%d pages) past the high-water mark %d", id, overflow, v.hwm)
	}
	for i := uint64(0); i <= overflow; i++ {
		v.seen[id+i] = true
	}
	p := make([]byte, (overflow+1)*v.ps)
	if _, err := v.f.ReadAt(p, int64(id*v.ps)); err != nil {
		return nil, fmt.Errorf("store: read %s: %w", v.path, err)
	}
	return p, nil
}

// tree checks the subtree rooted at page id.
func (v *treeVerifier) tree(id uint64, depth int) error {
	if depth > maxTreeDepth {
		return v.errorf("tree deeper than %d pages at page %d", maxTreeDepth, id)
	}
	p, err := v.readPage(id)
	if err != nil {
		return err
	}
	ne := binary.NativeEndian
	flags, count := ne.Uint16(p[8:]), int(ne.Uint16(p[10:]))
	if pageHeaderSize+count*elemSize > len(p) {
		return v.errorf("page %d: %d elements do not fit", id, count)
	}
	switch flags {
	case leafFlag:
		return v.leaf(p, id, depth)
	case branchFlag:
		for i := range count {
			off := pageHeaderSize + i*elemSize
			pos, ksize := int(ne.Uint32(p[off:])), int(ne.Uint32(p[off+4:]))
			if off+pos+ksize > len(p) {
				return v.errorf("branch page %d element %d: key outside the page", id, i)
			}
			if err := v.tree(ne.Uint64(p[off+8:]), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return v.errorf("page %d: expected a branch or leaf page, found flags 0x%x", id, flags)
}

// leaf checks the elements of a leaf page p (a page span or the inline
// page of a bucket value) and the sub-buckets they hold.
func (v *treeVerifier) leaf(p []byte, id uint64, depth int) error {
	ne := binary.NativeEndian
	count := int(ne.Uint16(p[10:]))
	if pageHeaderSize+count*elemSize > len(p) {
		return v.errorf("leaf in page %d: %d elements do not fit", id, count)
	}
	for i := range count {
		off := pageHeaderSize + i*elemSize
		flags := ne.Uint32(p[off:])
		pos, ksize, vsize := int(ne.Uint32(p[off+4:])), int(ne.Uint32(p[off+8:])), int(ne.Uint32(p[off+12:]))
		end := off + pos + ksize + vsize
		if end > len(p) || end < off {
			return v.errorf("leaf in page %d element %d: key or value outside the page", id, i)
		}
		if flags&bucketLeafFlag == 0 {
			continue
		}
		val := p[off+pos+ksize : end]
		if len(val) < bucketHdrSize {
			return v.errorf("leaf in page %d element %d: bucket header too short", id, i)
		}
		if root := ne.Uint64(val); root != 0 {
			if err := v.tree(root, depth+1); err != nil {
				return err
			}
			continue
		}
		inline := val[bucketHdrSize:]
		if len(inline) < pageHeaderSize || ne.Uint16(inline[8:]) != leafFlag {
			return v.errorf("leaf in page %d element %d: bad inline bucket", id, i)
		}
		if depth > maxTreeDepth {
			return v.errorf("buckets nested deeper than %d at page %d", maxTreeDepth, id)
		}
		if err := v.leaf(inline, id, depth+1); err != nil {
			return err
		}
	}
	return nil
}
