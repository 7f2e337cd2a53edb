#!/usr/bin/env bash
# Applies rendered K3s manifests to a real, throwaway kube-apiserver (with etcd) on loopback and
# fails on anything that server refuses or warns about, with Pod Security "restricted" enforced.
#
# usage: scripts/deploy/apiserver.sh <rendered.yaml>
#        scripts/deploy/apiserver.sh --self-test <rendered.yaml>
#        scripts/deploy/apiserver.sh --install          (only build/install the tools)
#   <rendered.yaml>  what `kubectl kustomize deployment/` prints (needs scripts/k3s-secrets.sh first)
#   --self-test      proves the check catches breakage: applies the unchanged file, then mutated
#                    copies (a privileged container, runAsNonRoot removed, an unknown field, a
#                    wrong type, the namespace relaxed to privileged) and fails unless the server
#                    refuses every one of them for the expected reason
#
# What it proves: every object passes the API server's own validation (schema with strict field
# validation, defaulting, immutable/port/selector rules), server-side apply succeeds without a
# single warning, every object in the file exists afterwards, and a Pod made from every pod
# template is admitted by the PodSecurity admission plugin enforcing "restricted" in the
# namespaces the file defines. What it does not: no scheduler, kubelet, controllers or network,
# so nothing runs (scripts/deploy's podman part covers that).
#
# Tools (installed when missing; needs root for apt-get):
#   etcd             Debian's etcd-server
#   kube-apiserver   built from the Go module proxy through scripts/deploy/kube-apiserver/go.mod
#   kubectl          built the same way, so client and server are the same pinned release
#                    (KUBECTL=/path overrides it). Cold build 8-15 min on 2 cores; the binaries
#                    are cached in $UDACONNECT_CACHE_DIR/kube-apiserver/<version>/ (default
#                    .udaconnect/cache, gitignored) and reused.
# Environment: APISERVER_READY_TIMEOUT (s, default 120), DEPLOY_APISERVER_KEEP=1 keeps the
# temporary directory (certificates, kubeconfig, logs) for debugging; it is printed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODULE_DIR="$ROOT/scripts/deploy/kube-apiserver"
# The release the wrapper module pins; the go.mod is the source of truth, checked below.
K8S_VERSION=v1.31.0
CACHE_DIR=${UDACONNECT_CACHE_DIR:-$ROOT/.udaconnect/cache}
BIN_DIR="$CACHE_DIR/kube-apiserver/$K8S_VERSION"
READY_TIMEOUT=${APISERVER_READY_TIMEOUT:-120}
FIELD_MANAGER=udaconnect-deploy-check
# The K3s default service CIDR, so a fixed clusterIP in the manifests is checked against the
# range it will meet on the VM.
SERVICE_CIDR=10.43.0.0/16

T0=$(date +%s)
log() { echo "[deploy:apiserver] $*" >&2; }
die() { echo "[deploy:apiserver] FAILED: $*" >&2; exit 1; }
since() { echo $(($(date +%s) - $1)); }
usage() { sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; }

MODE=check FILE=""
case "${1:-}" in
  --self-test) MODE=self-test; FILE=${2:-} ;;
  --install) MODE=install ;;
  -h|--help) usage; exit 0 ;;
  -*|"") usage >&2; exit 2 ;;
  *) FILE=$1 ;;
esac
if [ "$MODE" != install ]; then
  [ -n "$FILE" ] || { usage >&2; exit 2; }
  [ -s "$FILE" ] || die "no manifests in '$FILE' (render them with: kubectl kustomize deployment/ > rendered.yaml)"
  FILE=$(cd "$(dirname "$FILE")" && pwd)/$(basename "$FILE")
fi

# ------------------------------------------------------------------------------ tools
apt_install() {
  [ "$(id -u)" = 0 ] || die "$* missing and installing it needs root (apt-get install $*)"
  log "installing Debian package(s): $*"
  # Other jobs on the machine may hold the dpkg lock for a while: wait for it instead of failing.
  local apt=(apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "$@")
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" >/dev/null 2>&1 || {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update >/dev/null
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" >/dev/null
  } || die "apt-get install $* failed"
}

ensure_go() {
  command -v go >/dev/null 2>&1 || PATH="$PATH:/usr/local/go/bin"
  command -v go >/dev/null 2>&1 || die "Go (>= 1.22) is needed once to build kube-apiserver $K8S_VERSION; Debian's golang-go is too old"
  local v
  v=$(GOTOOLCHAIN=local go env GOVERSION)
  v=${v#go}
  local minor=${v#1.}
  minor=${minor%%.*}
  [[ "$v" == 1.* && "$minor" =~ ^[0-9]+$ && "$minor" -ge 22 ]] || die "Go >= 1.22 needed to build kube-apiserver $K8S_VERSION, found go$v"
}

# kube-apiserver and kubectl from one `go build` in the wrapper module. Concurrent runs (the
# check and its self-test started together) wait on one lock instead of building twice; the
# binaries appear under $BIN_DIR only once complete, so an interrupted build is never reused.
ensure_kube_binaries() {
  grep -q "^require k8s.io/kubernetes $K8S_VERSION\$" "$MODULE_DIR/go.mod" ||
    die "$MODULE_DIR/go.mod does not require k8s.io/kubernetes $K8S_VERSION (update K8S_VERSION in $0 with it)"
  if [ -x "$BIN_DIR/kube-apiserver" ] && [ -x "$BIN_DIR/kubectl" ]; then return; fi
  mkdir -p "$CACHE_DIR/kube-apiserver"
  exec 9>"$CACHE_DIR/kube-apiserver/.build.lock"
  flock 9
  if [ -x "$BIN_DIR/kube-apiserver" ] && [ -x "$BIN_DIR/kubectl" ]; then exec 9>&-; return; fi
  ensure_go
  local t tmp buildlog
  t=$(date +%s)
  tmp="$BIN_DIR.partial"
  buildlog="$CACHE_DIR/kube-apiserver/build-$K8S_VERSION.log"
  rm -rf "$tmp" && mkdir -p "$tmp"
  log "building kube-apiserver and kubectl $K8S_VERSION from the Go module proxy (8-15 min cold on 2 cores, once; log: $buildlog)"
  # Kubernetes' own build stamps the version with these -X flags; without them the server
  # reports v0.0.0-master and kubectl warns about version skew.
  local pkg ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags="$ldflags -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitTreeState=clean"
    ldflags="$ldflags -X $pkg.gitMajor=$(echo "$K8S_VERSION" | cut -d. -f1 | tr -d v) -X $pkg.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
  done
  # -mod=readonly: go.sum is committed, so the build fetches exactly what was reviewed.
  # GOTOOLCHAIN=local: never download another Go toolchain behind the user's back.
  if ! (cd "$MODULE_DIR" && GOTOOLCHAIN=local go build -mod=readonly -trimpath \
        -ldflags "$ldflags" -o "$tmp/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl) \
        >"$buildlog" 2>&1; then
    tail -n 30 "$buildlog" >&2
    die "go build of kube-apiserver $K8S_VERSION failed (full log: $buildlog)"
  fi
  rm -rf "$BIN_DIR" && mv "$tmp" "$BIN_DIR"
  exec 9>&-
  log "built kube-apiserver and kubectl $K8S_VERSION in $(since "$t") s (cached in $BIN_DIR)"
}

ensure_tools() {
  local missing=()
  command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v flock >/dev/null 2>&1 || missing+=(util-linux)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  command -v node >/dev/null 2>&1 || die "node is required (it turns pod templates into probe Pods)"
  ensure_kube_binaries
  APISERVER="$BIN_DIR/kube-apiserver"
  KUBECTL=${KUBECTL:-$BIN_DIR/kubectl}
}

# ------------------------------------------------------------------------------ cluster
WORK="" ETCD_PID="" APISERVER_PID=""
stop_pid() {
  local pid=$1 i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # apiserver before etcd, so it does not spend its shutdown retrying a dead etcd.
  stop_pid "$APISERVER_PID"
  stop_pid "$ETCD_PID"
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "${DEPLOY_APISERVER_KEEP:-}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  fi
  [ "$rc" = 0 ] || log "exit $rc after $(since "$T0") s; etcd and kube-apiserver stopped"
  exit "$rc"
}
trap cleanup EXIT
# Background jobs of a script ignore SIGINT, so Ctrl-C reaches only this shell: the EXIT trap
# then stops them.
trap 'exit 130' INT
trap 'exit 143' TERM

# Free loopback ports chosen by the kernel: fixed ports (2379, 6443) would collide with another
# check, a K3s or a developer's etcd on the same machine.
free_ports() {
  node -e '
    const net = require("net");
    const n = Number(process.argv[1]), servers = [];
    let done = 0;
    for (let i = 0; i < n; i++) {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        if (++done === n) {
          console.log(servers.map((x) => x.address().port).join(" "));
          servers.forEach((x) => x.close());
        }
      });
      servers.push(s);
    }' "$1"
}

# Throwaway PKI: a CA, the serving certificate for 127.0.0.1, an admin client certificate in
# system:masters (RBAC lets it do anything, as K3s' admin kubeconfig does) and the service
# account signing key pair the apiserver insists on.
make_pki() {
  local d=$1
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=udaconnect-check-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout ca.key -out ca.crt
    openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout server.key -out server.csr
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out server.crt \
      -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n')
    openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=udaconnect-check-admin" -keyout admin.key -out admin.csr
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out admin.crt \
      -extfile <(printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n')
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
  ) >"$d/openssl.log" 2>&1 || { cat "$d/openssl.log" >&2; die "openssl could not make the throwaway certificates"; }
}

k() { "$KUBECTL" --kubeconfig="$WORK/admin.kubeconfig" --cache-dir="$WORK/kube-cache" "$@"; }

start_cluster() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/udaconnect-apiserver.XXXXXX")
  chmod 700 "$WORK"
  make_pki "$WORK"
  local ports etcd_port peer_port api_port
  ports=$(free_ports 3)
  read -r etcd_port peer_port api_port <<<"$ports"

  etcd --name=udaconnect-check --data-dir="$WORK/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$peer_port" --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-cluster="udaconnect-check=http://127.0.0.1:$peer_port" \
    --logger=zap --log-outputs="$WORK/etcd.log" </dev/null >>"$WORK/etcd.log" 2>&1 &
  ETCD_PID=$!

  cat >"$WORK/admin.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: check
    cluster: {server: "https://127.0.0.1:$api_port", certificate-authority: "$WORK/ca.crt"}
users:
  - name: admin
    user: {client-certificate: "$WORK/admin.crt", client-key: "$WORK/admin.key"}
contexts:
  - name: check
    context: {cluster: check, user: admin}
current-context: check
EOF

  # PodSecurity is on by default in 1.31; naming it makes sure a future default change cannot
  # silently drop the check. allow-privileged=true as on K3s, so a privileged container is
  # refused by PodSecurity (what protects the real cluster), not by a flag K3s does not set.
  "$APISERVER" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --tls-cert-file="$WORK/server.crt" --tls-private-key-file="$WORK/server.key" \
    --client-ca-file="$WORK/ca.crt" --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$WORK/sa.pub" --service-account-signing-key-file="$WORK/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --allow-privileged=true \
    --enable-admission-plugins=NamespaceLifecycle,ServiceAccount,LimitRanger,ResourceQuota,DefaultStorageClass,PodSecurity \
    --profiling=false --v=1 </dev/null >"$WORK/kube-apiserver.log" 2>&1 &
  APISERVER_PID=$!

  local t i
  t=$(date +%s)
  while :; do
    if k --request-timeout=2s get --raw=/readyz >/dev/null 2>&1; then break; fi
    for i in "$ETCD_PID:etcd" "$APISERVER_PID:kube-apiserver"; do
      if ! kill -0 "${i%%:*}" 2>/dev/null; then
        tail -n 25 "$WORK/${i#*:}.log" >&2
        die "${i#*:} exited during start-up (its log is above)"
      fi
    done
    if [ "$(since "$t")" -ge "$READY_TIMEOUT" ]; then
      # The failing readiness checks only ("[-]..."); kubectl prints them \n-escaped in one line.
      k --request-timeout=5s get --raw='/readyz?verbose' 2>&1 | sed 's/\\n/\n/g' | grep '^\[-\]' >&2 || true
      tail -n 15 "$WORK/kube-apiserver.log" >&2
      die "kube-apiserver not ready after $READY_TIMEOUT s (APISERVER_READY_TIMEOUT); failing checks and log are above"
    fi
    sleep 0.5
  done
  local version
  version=$(k get --raw=/version | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p')
  log "kube-apiserver $version ready in $(since "$t") s (etcd $(etcd --version | sed -n 's/^etcd Version: //p'), https://127.0.0.1:$api_port, admission incl. PodSecurity)"
}

# ------------------------------------------------------------------------------ the check
# Reads the objects (kubectl's own parse of the file, as JSON) and writes, in directory $2:
#   namespaces.txt   "<ns> <defined-in-file yes|no> <enforce label in the file or ->" per line
#   probes.json      a v1 List of Pods, one per pod template (Deployment, StatefulSet, Job, ...),
#                    because PodSecurity only *warns* on workload objects and enforces on Pods,
#                    which nothing creates here (no controller-manager)
#   kinds.txt        "<count> <kind>" summary
analyse_objects() {
  node - "$1" "$2" <<'EOF'
const fs = require("fs");
const [file, out] = process.argv.slice(2);
// kubectl prints one JSON object per document, back to back: split them at depth 0.
function parseStream(text) {
  const out = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i])) i++;
    if (i >= text.length) break;
    const start = i;
    let depth = 0, inString = false, escaped = false;
    for (; i < text.length; i++) {
      const c = text[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (c === "\\") escaped = true;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === "{" || c === "[") depth++;
      else if ((c === "}" || c === "]") && --depth === 0) { i++; break; }
    }
    out.push(JSON.parse(text.slice(start, i)));
  }
  return out;
}
const items = parseStream(fs.readFileSync(file, "utf8")).flatMap((o) => (o.kind === "List" ? o.items : [o]));
const NS = "pod-security.kubernetes.io/enforce";
const namespaces = new Map();
const kinds = new Map();
const probes = [];
for (const o of items) {
  kinds.set(o.kind, (kinds.get(o.kind) || 0) + 1);
  if (o.kind === "Namespace") {
    namespaces.set(o.metadata.name, { defined: true, enforce: (o.metadata.labels || {})[NS] || "-" });
  } else if (o.metadata.namespace && !namespaces.has(o.metadata.namespace)) {
    namespaces.set(o.metadata.namespace, { defined: false, enforce: "-" });
  }
  let template;
  if (["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"].includes(o.kind)) {
    template = o.spec && o.spec.template;
  } else if (o.kind === "CronJob") {
    template = o.spec && o.spec.jobTemplate && o.spec.jobTemplate.spec && o.spec.jobTemplate.spec.template;
  }
  if (!template) continue;
  const spec = JSON.parse(JSON.stringify(template.spec || {}));
  // The StatefulSet controller adds a volume per claim template; without it the probe Pod would
  // fail validation on a volumeMount the real Pod does have.
  for (const claim of (o.kind === "StatefulSet" && o.spec.volumeClaimTemplates) || []) {
    spec.volumes = spec.volumes || [];
    const name = claim.metadata.name;
    if (!spec.volumes.some((v) => v.name === name)) {
      spec.volumes.push({ name, persistentVolumeClaim: { claimName: `${name}-${o.metadata.name}-0` } });
    }
  }
  probes.push({
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `${o.kind.toLowerCase()}-${o.metadata.name}`.slice(0, 63).replace(/-+$/, ""),
      namespace: o.metadata.namespace || "default",
      labels: (template.metadata && template.metadata.labels) || {},
      annotations: (template.metadata && template.metadata.annotations) || {},
    },
    spec,
  });
}
fs.writeFileSync(`${out}/namespaces.txt`,
  [...namespaces].map(([n, v]) => `${n} ${v.defined ? "yes" : "no"} ${v.enforce}\n`).join(""));
fs.writeFileSync(`${out}/probes.json`, JSON.stringify({ apiVersion: "v1", kind: "List", items: probes }));
fs.writeFileSync(`${out}/kinds.txt`, [...kinds].map(([k, n]) => `${n} ${k}\n`).join(""));
fs.writeFileSync(`${out}/count.txt`, `${items.length}\n`);
EOF
}

# Documents with a top-level kind, counted without kubectl, so a document kubectl silently
# skipped would show up as a difference.
count_documents() {
  awk '/^---/ { if (k) n++; k = 0; next } /^kind:/ { k = 1 } END { if (k) n++; print n + 0 }' "$1"
}

# Namespaces the file defines are created here first, labelled to enforce "restricted", so the
# policy holds even if the file's Namespace lacked the label. The label is owned by another
# field manager: if the file sets a different level, server-side apply reports a conflict and
# the check fails instead of relaxing it. The "default" ServiceAccount is what the
# controller-manager (absent here) would create; ServiceAccount admission needs it for Pods.
prepare_namespaces() {
  local ns defined enforce
  while read -r ns defined enforce; do
    if [ "$defined" = yes ]; then
      k get namespace "$ns" >/dev/null 2>&1 || k create namespace "$ns" >/dev/null || return 1
    elif ! k get namespace "$ns" >/dev/null 2>&1; then
      continue  # the apply will report the missing namespace, as a real cluster would
    fi
    k label --overwrite namespace "$ns" pod-security.kubernetes.io/enforce=restricted \
      pod-security.kubernetes.io/enforce-version=latest >/dev/null || return 1
    k get serviceaccount default -n "$ns" >/dev/null 2>&1 || k create serviceaccount default -n "$ns" >/dev/null || return 1
  done <"$1/namespaces.txt"
}

# One pass over a manifest file; prints every refusal and warning, returns non-zero on any.
#   $1 file, $2 scratch dir, $3 "apply" (persist, then verify every object exists) or "dry-run"
run_check() {
  local file=$1 dir=$2 how=$3 failed=0 out rc t
  mkdir -p "$dir"
  # kubectl's own parse of the file (client side, nothing sent): the objects the apply will send.
  if ! k create --dry-run=client -o json -f "$file" >"$dir/objects.json" 2>"$dir/parse.err"; then
    cat "$dir/parse.err" >&2
    log "kubectl could not parse $file"
    return 1
  fi
  # Called from `if`, so errexit is off in here: every step that must not fail says so.
  analyse_objects "$dir/objects.json" "$dir" || { log "could not read the objects kubectl parsed"; return 1; }
  if [ "$how" = apply ]; then
    prepare_namespaces "$dir" || { log "could not create the namespaces labelled restricted"; return 1; }
  fi

  local dry=() what="server-side apply"
  [ "$how" = apply ] || { dry=(--dry-run=server); what="server-side apply (server dry run)"; }
  t=$(date +%s)
  rc=0
  out=$(k apply --server-side --field-manager="$FIELD_MANAGER" --validate=strict --warnings-as-errors \
        "${dry[@]}" -f "$file" 2>&1) || rc=$?
  echo "$out" >"$dir/apply.log"
  if [ "$rc" != 0 ] || grep -qi '^warning' <<<"$out"; then
    echo "$out" | grep -v -E ' serverside-applied$| serverside-applied \(server dry run\)$' >&2 || true
    log "apply refused or warned (exit $rc)"
    failed=1
  else
    log "$what: $(grep -c 'serverside-applied' <<<"$out") objects, no warnings ($(since "$t") s)"
  fi

  # Pods that the workloads would create, admitted (server dry run: validation + admission,
  # nothing stored) under the enforced policy.
  local probes
  probes=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).items.length)' "$dir/probes.json") || return 1
  if [ "$probes" -gt 0 ]; then
    rc=0
    out=$(k create --dry-run=server --warnings-as-errors -f "$dir/probes.json" 2>&1) || rc=$?
    echo "$out" >"$dir/probes.log"
    if [ "$rc" != 0 ] || grep -qi '^warning' <<<"$out"; then
      echo "$out" | grep -v 'created (server dry run)$' >&2 || true
      log "a Pod from a pod template was refused (exit $rc)"
      failed=1
    else
      PROBES_OK=$probes
    fi
  fi

  local ns defined enforce
  while read -r ns defined enforce; do
    [ "$defined" = yes ] || continue
    if [ "$enforce" != restricted ]; then
      log "the file's Namespace $ns does not carry pod-security.kubernetes.io/enforce: restricted (it has '$enforce'); on K3s nothing would enforce the policy: label it in deployment/namespace.yaml"
      failed=1
    fi
  done <"$dir/namespaces.txt"

  [ "$how" = apply ] || return "$failed"
  # Every object of the file must now exist on the server, and kubectl must have seen as many
  # objects as the file has documents.
  local docs parsed present
  docs=$(count_documents "$file")
  parsed=$(cat "$dir/count.txt") || return 1
  rc=0
  out=$(k get -f "$file" -o name 2>&1) || rc=$?
  present=$(grep -c '/' <<<"$out" || true)
  if [ "$rc" != 0 ] || [ "$present" != "$docs" ] || [ "$parsed" != "$docs" ]; then
    echo "$out" | grep -v '/' >&2 || true
    log "objects: $docs documents in the file, $parsed parsed by kubectl, $present on the server"
    failed=1
  fi
  OBJECTS_PRESENT=$present
  while read -r ns defined enforce; do
    [ "$defined" = yes ] || continue
    enforce=$(k get namespace "$ns" -o jsonpath='{.metadata.labels.pod-security\.kubernetes\.io/enforce}')
    [ "$enforce" = restricted ] || { log "namespace $ns enforces '$enforce' on the server"; failed=1; }
  done <"$dir/namespaces.txt"
  return "$failed"
}

check() {
  local dir="$WORK/check"
  PROBES_OK=0 OBJECTS_PRESENT=0
  if ! run_check "$FILE" "$dir" apply; then
    die "$(basename "$FILE") is not accepted by kube-apiserver $K8S_VERSION (details above)"
  fi
  local namespaces
  namespaces=$(awk '$2 == "yes" { printf "%s%s", sep, $1; sep = ", " }' "$dir/namespaces.txt")
  log "$OBJECTS_PRESENT objects accepted and present ($(sort -k2 "$dir/kinds.txt" | awk '{ printf "%s%s %s", sep, $1, $2; sep = ", " }')), no warnings"
  log "namespace $namespaces enforces PSS restricted; $PROBES_OK Pods from the pod templates admitted under it"
}

# ------------------------------------------------------------------------------ self-test
# Each case: a mutated copy of the file that a real cluster must refuse, and the words the
# refusal must contain (so a case cannot pass by failing for an unrelated reason).
mutate() {
  local case=$1 in=$2 out=$3
  case "$case" in
    privileged)
      # The first container's allowPrivilegeEscalation: false becomes privileged: true (the API
      # server itself refuses the two together, which would not test PodSecurity).
      sed -E '0,/^( *)allowPrivilegeEscalation: false$/s//\1privileged: true/' "$in" >"$out" ;;
    run-as-root)
      # Every runAsNonRoot: true removed (pod and container level) and the first runAsUser
      # set to 0: a workload that would run as root.
      sed -E '/^ *runAsNonRoot: true$/d; 0,/^( *)runAsUser: [0-9]+$/s//\1runAsUser: 0/' "$in" >"$out" ;;
    unknown-field)
      # A misspelt field next to the first image: line: server-side apply checks the object
      # against the schema and must refuse it, where a client-side apply would drop it.
      awk '!done && /^ *image: / { print; match($0, /^ */); printf "%*simagePullPolicyy: IfNotPresent\n", RLENGTH, ""; done = 1; next } { print }' "$in" >"$out" ;;
    wrong-type)
      sed -E '0,/^( *)replicas: [0-9]+$/s//\1replicas: "two"/' "$in" >"$out" ;;
    namespace-relaxed)
      sed -E 's#^( *)pod-security.kubernetes.io/enforce: restricted$#\1pod-security.kubernetes.io/enforce: privileged#' "$in" >"$out" ;;
  esac
}
expected() {
  case "$1" in
    privileged) echo 'forbidden: violates PodSecurity "restricted:latest": .*privileged' ;;
    run-as-root) echo 'forbidden: violates PodSecurity "restricted:latest": .*runAsNonRoot' ;;
    unknown-field) echo 'imagePullPolicyy: field not declared in schema' ;;
    wrong-type) echo 'spec.replicas: expected numeric' ;;
    namespace-relaxed) echo 'conflict with "kubectl-label".*pod-security.kubernetes.io/enforce' ;;
  esac
}

self_test() {
  log "self-test: the unchanged file first (it must pass, or no refusal below would mean anything)"
  PROBES_OK=0 OBJECTS_PRESENT=0
  run_check "$FILE" "$WORK/baseline" apply || die "self-test: the unchanged $(basename "$FILE") is refused; fix that first"
  log "self-test: unchanged file accepted ($OBJECTS_PRESENT objects, $PROBES_OK probe Pods)"
  local c failures=0 mutated msg pattern
  for c in privileged run-as-root unknown-field wrong-type namespace-relaxed; do
    mutated="$WORK/$c.yaml"
    mutate "$c" "$FILE" "$mutated"
    if cmp -s "$FILE" "$mutated"; then
      log "self-test $c: NOT RUN, the mutation found nothing to change in the file (update mutate() in $0)"
      failures=$((failures + 1)); continue
    fi
    # Server dry run: the objects are already stored by the baseline, so each mutation is
    # checked as the update a user's next `kubectl apply` would send, and leaves nothing behind.
    if run_check "$mutated" "$WORK/$c" dry-run >"$WORK/$c.out" 2>&1; then
      log "self-test $c: NOT CAUGHT, the mutated file was accepted"
      failures=$((failures + 1)); continue
    fi
    pattern=$(expected "$c")
    msg=$(grep -E -m1 -- "$pattern" "$WORK/$c.out" || true)
    if [ -z "$msg" ]; then
      sed 's/^/    /' "$WORK/$c.out" >&2
      log "self-test $c: refused, but not for the expected reason (/$pattern/); output above"
      failures=$((failures + 1)); continue
    fi
    # The server's words, without kubectl's "error when creating <temp file>:" preamble.
    msg=$(echo "$msg" | sed -E 's/^ +//; s/^Error from server[^:]*: (error when creating "[^"]*": )?//' | cut -c1-300)
    log "self-test $c: refused as expected: $msg"
  done
  [ "$failures" = 0 ] || die "self-test: $failures case(s) not caught as expected"
  log "self-test: all 5 breakages refused"
}

# ------------------------------------------------------------------------------ main
t=$(date +%s)
ensure_tools
log "tools ready in $(since "$t") s (kube-apiserver $K8S_VERSION and kubectl from $BIN_DIR, $(command -v etcd))"
[ "$MODE" != install ] || exit 0
start_cluster
case "$MODE" in
  check) check ;;
  self-test) self_test ;;
esac
log "passed in $(since "$T0") s"
