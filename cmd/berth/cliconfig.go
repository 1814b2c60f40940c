//go:build !berth_agent

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/client"
	"github.com/berth-dev/berth/pki"
)

// cliConfig is the file `berth server` writes so the local user's CLI
// finds the server without flags.
type cliConfig struct {
	Server string `json:"server"`
	Token  string `json:"token"`
	// CA is the cluster CA (PEM) the CLI verifies an https server with.
	CA string `json:"ca,omitempty"`
}

// Environment variables read by the CLI when no flag is given.
const (
	envServer = "BERTH_SERVER"
	envToken  = "BERTH_TOKEN"
	envConfig = "BERTH_CONFIG"
)

// DefaultCLIConfigPath is ~/.config/berth/config.json (or under
// $XDG_CONFIG_HOME), unless $BERTH_CONFIG names another file.
func DefaultCLIConfigPath() (string, error) {
	if p := os.Getenv(envConfig); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("CLI config: %w", err)
	}
	return filepath.Join(dir, "berth", "config.json"), nil
}

// WriteCLIConfig writes the server address and admin token for the CLI,
// readable by its owner only; it replaces the file whole, so a reader
// never sees half of it.
func WriteCLIConfig(path string, c cliConfig) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("CLI config: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.json")
	if err != nil {
		return fmt.Errorf("CLI config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("CLI config: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("CLI config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("CLI config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("CLI config: %w", err)
	}
	return nil
}

// writeLocalCLIConfig writes the CLI config at DefaultCLIConfigPath and
// returns where. Under sudo it writes it for the user who ran sudo
// instead (in their home, owned by them), since that is who will type
// `berth get pods` next.
func writeLocalCLIConfig(c cliConfig) (string, error) {
	path, err := DefaultCLIConfigPath()
	if err != nil {
		return "", err
	}
	uid, gid, home, ok := sudoUser()
	if !ok || os.Getenv(envConfig) != "" {
		return path, WriteCLIConfig(path, c)
	}
	path = filepath.Join(home, ".config", "berth", "config.json")
	if err := WriteCLIConfig(path, c); err != nil {
		return "", err
	}
	// Hand the new directories and the file to the user.
	for _, p := range []string{filepath.Join(home, ".config"), filepath.Dir(path), path} {
		if err := os.Lchown(p, uid, gid); err != nil {
			return "", fmt.Errorf("CLI config: %w", err)
		}
	}
	return path, nil
}

// sudoUser is the user who ran sudo, if this process runs under it.
func sudoUser() (uid, gid int, home string, ok bool) {
	name := os.Getenv("SUDO_USER")
	if name == "" || name == "root" || os.Geteuid() != 0 {
		return 0, 0, "", false
	}
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, "", false
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil || u.HomeDir == "" {
		return 0, 0, "", false
	}
	return uid, gid, u.HomeDir, true
}

// connFlags are how a command finds the server: --server and --token,
// else $BERTH_SERVER and $BERTH_TOKEN, else the config file.
type connFlags struct {
	server, token, config string
}

func (f *connFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "", "address of the berth server, e.g. http://127.0.0.1:7443 (default: $"+envServer+", then the CLI config)")
	fl.StringVar(&f.token, "token", "", "admin token (default: $"+envToken+", then the CLI config)")
	fl.StringVar(&f.config, "config", "", "CLI config file written by `berth server` (default: $"+envConfig+" or ~/.config/berth/config.json)")
}

// resolve returns the server and token in the order flags, environment,
// config file; the config file is read only for what is still missing.
func (f *connFlags) resolve() (server, token string, err error) {
	c, err := f.resolveConfig()
	return c.Server, c.Token, err
}

// resolveConfig is resolve with the CA the config file names (only when
// the server comes from that file too).
func (f *connFlags) resolveConfig() (cliConfig, error) {
	server, token := f.server, f.token
	if server == "" {
		server = os.Getenv(envServer)
	}
	if token == "" {
		token = os.Getenv(envToken)
	}
	if server != "" && token != "" {
		return cliConfig{Server: server, Token: token}, nil
	}
	path := f.config
	if path == "" {
		var err error
		if path, err = DefaultCLIConfigPath(); err != nil {
			return cliConfig{}, err
		}
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && f.config == "":
		return cliConfig{}, fmt.Errorf("no server given: pass --server and --token, set $%s and $%s, or run `berth server`, which writes %s", envServer, envToken, path)
	case err != nil:
		return cliConfig{}, fmt.Errorf("read CLI config: %w", err)
	}
	var c cliConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return cliConfig{}, fmt.Errorf("CLI config %s: %w", path, err)
	}
	ca := ""
	if server == "" || server == c.Server {
		server, ca = c.Server, c.CA
	}
	if token == "" {
		token = c.Token
	}
	if server == "" || token == "" {
		return cliConfig{}, fmt.Errorf("CLI config %s: server and token are required", path)
	}
	return cliConfig{Server: server, Token: token, CA: ca}, nil
}

func (f *connFlags) client() (*client.Client, error) {
	c, err := f.resolveConfig()
	if err != nil {
		return nil, err
	}
	if c.CA == "" {
		return client.New(c.Server, c.Token)
	}
	pool, err := pki.PoolFromPEM([]byte(c.CA))
	if err != nil {
		return nil, fmt.Errorf("CLI config: %w", err)
	}
	return client.New(c.Server, c.Token, client.WithHTTPClient(caClient(pool)))
}

// serverError is the server's refusal as kubectl words it, keeping the
// *api.Error for errors.As.
type serverError struct{ err *api.Error }

func (e serverError) Error() string {
	return fmt.Sprintf("Error from server (%s): %s", e.err.Reason, e.err.Message)
}

func (e serverError) Unwrap() error { return e.err }

// fromServer rewords an error the server answered, dropping the method
// and path the client put in front.
func fromServer(err error) error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return serverError{ae}
	}
	return err
}
