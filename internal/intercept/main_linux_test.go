package intercept

import (
	"bufio"
	"egret.dev/egret/internal/netnstest"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary act as a small client instead of running tests, so a test can run
// real code as another user inside a namespace.
const helperEnv = "EGRET_INTERCEPT_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

// helper runs one mode: "dial ADDR" prints what ADDR answers; "supported" prints Supported's verdict;
// "install" prints Install's error in the current namespace.
func helper(mode string) int {
	verb, arg, _ := strings.Cut(mode, " ")
	switch verb {
	case "dial":
		c, err := net.DialTimeout("tcp", arg, 5*time.Second)
		if err != nil {
			fmt.Println("dial error:", err)
			return 1
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(bufio.NewReader(c))
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Println("read error:", err)
			return 1
		}
		fmt.Print(string(b))
	case "supported":
		fmt.Print(Supported())
	case "install":
		r, err := Install(Params{})
		if err == nil {
			r.Remove()
		}
		fmt.Print(err)
	default:
		fmt.Println("unknown helper mode", mode)
		return 2
	}
	return 0
}

// asUser builds a command that runs this test binary in helper mode as uid/gid, from a copy that user
// can read.
func asUser(t *testing.T, uid uint32, mode string) *exec.Cmd {
	t.Helper()
	bin := netnstest.TestBinaryForOthers(t)
	cmd := exec.Command(bin)
	cmd.Env = []string{helperEnv + "=" + mode}
	cmd.Dir = filepath.Dir(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	return cmd
}
