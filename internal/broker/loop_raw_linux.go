package broker

import (
	"runtime"
	"syscall"
	"unsafe"
)

// The loop's system calls without the Go scheduler (issue 17, latency).
//
// A goroutine that blocks in a system call gives its P (the right to run
// Go code) to the scheduler: when epoll_wait returns, the loop must get a
// P back before it can read the socket. At 1,000 messages a second that
// slow path was taken for 4 messages in 10 (execution trace: the
// goroutine went Syscall -> Runnable -> Running), a thread wake-up and
// some spinning threads for each message. So the loop waits for up to
// rawWaitMs in epoll_pwait as a raw system call, keeping its P (the
// thread sleeps in the kernel; no CPU is used), and only a longer wait
// goes through the scheduler. The runtime still stops the loop when it
// must (a garbage collection, a goroutine that ran too long): its
// preemption signal interrupts epoll_pwait (EINTR, never restarted) and
// the loop yields (runtime.Gosched). With a single P the loop would keep
// every other goroutine waiting for up to rawWaitMs, so raw waits are
// used only when GOMAXPROCS >= 2.
//
// Reads and writes of the loop's sockets never block (O_NONBLOCK), so
// they are raw system calls too: the scheduler has nothing to do there.

// rawWaitMs is the longest epoll_pwait done as a raw system call.
const rawWaitMs = 2

// rawWaitOK reports whether the loop may wait holding its P; checked at
// every sweep (GOMAXPROCS may change while the broker runs).
func rawWaitOK() bool { return runtime.GOMAXPROCS(0) >= 2 }

// epollWaitRaw is epoll_wait(2) (as epoll_pwait with no signal mask,
// which every Linux port has) without telling the scheduler.
func epollWaitRaw(epfd int, events []syscall.EpollEvent, msec int) (int, error) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd),
		uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(msec), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// readRaw is read(2) on a non-blocking descriptor.
func readRaw(fd int, p []byte) (int, error) { return rawIO(syscall.SYS_READ, fd, p) }

// writeRaw is write(2) on a non-blocking descriptor.
func writeRaw(fd int, p []byte) (int, error) { return rawIO(syscall.SYS_WRITE, fd, p) }

// rawIO is read(2) or write(2) (trap) of p on fd; -1 and the errno on
// failure.
func rawIO(trap uintptr, fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r, _, e := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}
