namespace Quantixkvm.Libvirt;

/// <summary>
/// libvirt's <c>virErrorNumber</c> values (virterror.h, libvirt 9.0), named after the C constants in
/// PascalCase (<c>VIR_ERR_OPERATION_INVALID</c> is <see cref="OperationInvalid"/>; the warnings
/// <c>VIR_WAR_*</c> keep a <c>War</c> prefix). Codes added by later libvirt versions are still carried
/// verbatim in <see cref="LibvirtException.Code"/>.
/// </summary>
public enum LibvirtErrorCode
{
    /// <summary>VIR_ERR_OK.</summary>
    Ok = 0,

    /// <summary>VIR_ERR_INTERNAL_ERROR: Internal error.</summary>
    InternalError = 1,

    /// <summary>VIR_ERR_NO_MEMORY: Memory allocation failure.</summary>
    NoMemory = 2,

    /// <summary>VIR_ERR_NO_SUPPORT: No support for this function.</summary>
    NoSupport = 3,

    /// <summary>VIR_ERR_UNKNOWN_HOST: Could not resolve hostname.</summary>
    UnknownHost = 4,

    /// <summary>VIR_ERR_NO_CONNECT: Can't connect to hypervisor.</summary>
    NoConnect = 5,

    /// <summary>VIR_ERR_INVALID_CONN: Invalid connection object.</summary>
    InvalidConn = 6,

    /// <summary>VIR_ERR_INVALID_DOMAIN: Invalid domain object.</summary>
    InvalidDomain = 7,

    /// <summary>VIR_ERR_INVALID_ARG: Invalid function argument.</summary>
    InvalidArg = 8,

    /// <summary>VIR_ERR_OPERATION_FAILED: A command to hypervisor failed.</summary>
    OperationFailed = 9,

    /// <summary>VIR_ERR_GET_FAILED: A HTTP GET command to failed.</summary>
    GetFailed = 10,

    /// <summary>VIR_ERR_POST_FAILED: A HTTP POST command to failed.</summary>
    PostFailed = 11,

    /// <summary>VIR_ERR_HTTP_ERROR: Unexpected HTTP error code.</summary>
    HttpError = 12,

    /// <summary>VIR_ERR_SEXPR_SERIAL: Failure to serialize an S-Expr.</summary>
    SexprSerial = 13,

    /// <summary>VIR_ERR_NO_XEN: Could not open Xen hypervisor control.</summary>
    NoXen = 14,

    /// <summary>VIR_ERR_XEN_CALL: Failure doing an hypervisor call.</summary>
    XenCall = 15,

    /// <summary>VIR_ERR_OS_TYPE: Unknown OS type.</summary>
    OsType = 16,

    /// <summary>VIR_ERR_NO_KERNEL: Missing kernel information.</summary>
    NoKernel = 17,

    /// <summary>VIR_ERR_NO_ROOT: Missing root device information.</summary>
    NoRoot = 18,

    /// <summary>VIR_ERR_NO_SOURCE: Missing source device information.</summary>
    NoSource = 19,

    /// <summary>VIR_ERR_NO_TARGET: Missing target device information.</summary>
    NoTarget = 20,

    /// <summary>VIR_ERR_NO_NAME: Missing domain name information.</summary>
    NoName = 21,

    /// <summary>VIR_ERR_NO_OS: Missing domain OS information.</summary>
    NoOs = 22,

    /// <summary>VIR_ERR_NO_DEVICE: Missing domain devices information.</summary>
    NoDevice = 23,

    /// <summary>VIR_ERR_NO_XENSTORE: Could not open Xen Store control.</summary>
    NoXenStore = 24,

    /// <summary>VIR_ERR_DRIVER_FULL: Too many drivers registered.</summary>
    DriverFull = 25,

    /// <summary>VIR_ERR_CALL_FAILED: Not supported by the drivers (DEPRECATED).</summary>
    CallFailed = 26,

    /// <summary>VIR_ERR_XML_ERROR: An XML description is not well formed or broken.</summary>
    XmlError = 27,

    /// <summary>VIR_ERR_DOM_EXIST: The domain already exist.</summary>
    DomExist = 28,

    /// <summary>VIR_ERR_OPERATION_DENIED: Operation forbidden on read-only connections.</summary>
    OperationDenied = 29,

    /// <summary>VIR_ERR_OPEN_FAILED: Failed to open a conf file.</summary>
    OpenFailed = 30,

    /// <summary>VIR_ERR_READ_FAILED: Failed to read a conf file.</summary>
    ReadFailed = 31,

    /// <summary>VIR_ERR_PARSE_FAILED: Failed to parse a conf file.</summary>
    ParseFailed = 32,

    /// <summary>VIR_ERR_CONF_SYNTAX: Failed to parse the syntax of a conf file.</summary>
    ConfSyntax = 33,

    /// <summary>VIR_ERR_WRITE_FAILED: Failed to write a conf file.</summary>
    WriteFailed = 34,

    /// <summary>VIR_ERR_XML_DETAIL: Detail of an XML error.</summary>
    XmlDetail = 35,

    /// <summary>VIR_ERR_INVALID_NETWORK: Invalid network object.</summary>
    InvalidNetwork = 36,

    /// <summary>VIR_ERR_NETWORK_EXIST: The network already exist.</summary>
    NetworkExist = 37,

    /// <summary>VIR_ERR_SYSTEM_ERROR: General system call failure.</summary>
    SystemError = 38,

    /// <summary>VIR_ERR_RPC: Some sort of RPC error.</summary>
    Rpc = 39,

    /// <summary>VIR_ERR_GNUTLS_ERROR: Error from a GNUTLS call.</summary>
    GnuTlsError = 40,

    /// <summary>VIR_WAR_NO_NETWORK: Failed to start network.</summary>
    WarNoNetwork = 41,

    /// <summary>VIR_ERR_NO_DOMAIN: Domain not found or unexpectedly disappeared.</summary>
    NoDomain = 42,

    /// <summary>VIR_ERR_NO_NETWORK: Network not found.</summary>
    NoNetwork = 43,

    /// <summary>VIR_ERR_INVALID_MAC: Invalid MAC address.</summary>
    InvalidMac = 44,

    /// <summary>VIR_ERR_AUTH_FAILED: Authentication failed.</summary>
    AuthFailed = 45,

    /// <summary>VIR_ERR_INVALID_STORAGE_POOL: Invalid storage pool object.</summary>
    InvalidStoragePool = 46,

    /// <summary>VIR_ERR_INVALID_STORAGE_VOL: Invalid storage vol object.</summary>
    InvalidStorageVol = 47,

    /// <summary>VIR_WAR_NO_STORAGE: Failed to start storage.</summary>
    WarNoStorage = 48,

    /// <summary>VIR_ERR_NO_STORAGE_POOL: Storage pool not found.</summary>
    NoStoragePool = 49,

    /// <summary>VIR_ERR_NO_STORAGE_VOL: Storage volume not found.</summary>
    NoStorageVol = 50,

    /// <summary>VIR_WAR_NO_NODE: Failed to start node driver.</summary>
    WarNoNode = 51,

    /// <summary>VIR_ERR_INVALID_NODE_DEVICE: Invalid node device object.</summary>
    InvalidNodeDevice = 52,

    /// <summary>VIR_ERR_NO_NODE_DEVICE: Node device not found.</summary>
    NoNodeDevice = 53,

    /// <summary>VIR_ERR_NO_SECURITY_MODEL: Security model not found.</summary>
    NoSecurityModel = 54,

    /// <summary>VIR_ERR_OPERATION_INVALID: Operation is not applicable at this time.</summary>
    OperationInvalid = 55,

    /// <summary>VIR_WAR_NO_INTERFACE: Failed to start interface driver.</summary>
    WarNoInterface = 56,

    /// <summary>VIR_ERR_NO_INTERFACE: Interface driver not running.</summary>
    NoInterface = 57,

    /// <summary>VIR_ERR_INVALID_INTERFACE: Invalid interface object.</summary>
    InvalidInterface = 58,

    /// <summary>VIR_ERR_MULTIPLE_INTERFACES: More than one matching interface found.</summary>
    MultipleInterfaces = 59,

    /// <summary>VIR_WAR_NO_NWFILTER: Failed to start nwfilter driver.</summary>
    WarNoNwFilter = 60,

    /// <summary>VIR_ERR_INVALID_NWFILTER: Invalid nwfilter object.</summary>
    InvalidNwFilter = 61,

    /// <summary>VIR_ERR_NO_NWFILTER: Nw filter pool not found.</summary>
    NoNwFilter = 62,

    /// <summary>VIR_ERR_BUILD_FIREWALL: Nw filter pool not found.</summary>
    BuildFirewall = 63,

    /// <summary>VIR_WAR_NO_SECRET: Failed to start secret storage.</summary>
    WarNoSecret = 64,

    /// <summary>VIR_ERR_INVALID_SECRET: Invalid secret.</summary>
    InvalidSecret = 65,

    /// <summary>VIR_ERR_NO_SECRET: Secret not found.</summary>
    NoSecret = 66,

    /// <summary>VIR_ERR_CONFIG_UNSUPPORTED: Unsupported configuration construct.</summary>
    ConfigUnsupported = 67,

    /// <summary>VIR_ERR_OPERATION_TIMEOUT: Timeout occurred during operation.</summary>
    OperationTimeout = 68,

    /// <summary>VIR_ERR_MIGRATE_PERSIST_FAILED: A migration worked, but making the VM persist on the dest host failed.</summary>
    MigratePersistFailed = 69,

    /// <summary>VIR_ERR_HOOK_SCRIPT_FAILED: A synchronous hook script failed.</summary>
    HookScriptFailed = 70,

    /// <summary>VIR_ERR_INVALID_DOMAIN_SNAPSHOT: Invalid domain snapshot.</summary>
    InvalidDomainSnapshot = 71,

    /// <summary>VIR_ERR_NO_DOMAIN_SNAPSHOT: Domain snapshot not found.</summary>
    NoDomainSnapshot = 72,

    /// <summary>VIR_ERR_INVALID_STREAM: Stream pointer not valid.</summary>
    InvalidStream = 73,

    /// <summary>VIR_ERR_ARGUMENT_UNSUPPORTED: Valid API use but unsupported by the given driver.</summary>
    ArgumentUnsupported = 74,

    /// <summary>VIR_ERR_STORAGE_PROBE_FAILED: Storage pool probe failed.</summary>
    StorageProbeFailed = 75,

    /// <summary>VIR_ERR_STORAGE_POOL_BUILT: Storage pool already built.</summary>
    StoragePoolBuilt = 76,

    /// <summary>VIR_ERR_SNAPSHOT_REVERT_RISKY: Force was not requested for a risky domain snapshot revert.</summary>
    SnapshotRevertRisky = 77,

    /// <summary>VIR_ERR_OPERATION_ABORTED: Operation on a domain was canceled/aborted by user.</summary>
    OperationAborted = 78,

    /// <summary>VIR_ERR_AUTH_CANCELLED: Authentication cancelled.</summary>
    AuthCancelled = 79,

    /// <summary>VIR_ERR_NO_DOMAIN_METADATA: The metadata is not present.</summary>
    NoDomainMetadata = 80,

    /// <summary>VIR_ERR_MIGRATE_UNSAFE: Migration is not safe.</summary>
    MigrateUnsafe = 81,

    /// <summary>VIR_ERR_OVERFLOW: Integer overflow.</summary>
    Overflow = 82,

    /// <summary>VIR_ERR_BLOCK_COPY_ACTIVE: Action prevented by block copy job.</summary>
    BlockCopyActive = 83,

    /// <summary>VIR_ERR_OPERATION_UNSUPPORTED: The requested operation is not supported.</summary>
    OperationUnsupported = 84,

    /// <summary>VIR_ERR_SSH: Error in ssh transport driver.</summary>
    Ssh = 85,

    /// <summary>VIR_ERR_AGENT_UNRESPONSIVE: Guest agent is unresponsive, not running or not usable.</summary>
    AgentUnresponsive = 86,

    /// <summary>VIR_ERR_RESOURCE_BUSY: Resource is already in use.</summary>
    ResourceBusy = 87,

    /// <summary>VIR_ERR_ACCESS_DENIED: Operation on the object/resource was denied.</summary>
    AccessDenied = 88,

    /// <summary>VIR_ERR_DBUS_SERVICE: Error from a dbus service.</summary>
    DBusService = 89,

    /// <summary>VIR_ERR_STORAGE_VOL_EXIST: The storage vol already exists.</summary>
    StorageVolExist = 90,

    /// <summary>VIR_ERR_CPU_INCOMPATIBLE: Given CPU is incompatible with host CPU.</summary>
    CpuIncompatible = 91,

    /// <summary>VIR_ERR_XML_INVALID_SCHEMA: XML document doesn't validate against schema.</summary>
    XmlInvalidSchema = 92,

    /// <summary>VIR_ERR_MIGRATE_FINISH_OK: Finish API succeeded but it is expected to return NULL.</summary>
    MigrateFinishOk = 93,

    /// <summary>VIR_ERR_AUTH_UNAVAILABLE: Authentication unavailable.</summary>
    AuthUnavailable = 94,

    /// <summary>VIR_ERR_NO_SERVER: Server was not found.</summary>
    NoServer = 95,

    /// <summary>VIR_ERR_NO_CLIENT: Client was not found.</summary>
    NoClient = 96,

    /// <summary>VIR_ERR_AGENT_UNSYNCED: Guest agent replies with wrong id to guest-sync command (DEPRECATED).</summary>
    AgentUnsynced = 97,

    /// <summary>VIR_ERR_LIBSSH: Error in libssh transport driver.</summary>
    LibSsh = 98,

    /// <summary>VIR_ERR_DEVICE_MISSING: Fail to find the desired device.</summary>
    DeviceMissing = 99,

    /// <summary>VIR_ERR_INVALID_NWFILTER_BINDING: Invalid nwfilter binding.</summary>
    InvalidNwFilterBinding = 100,

    /// <summary>VIR_ERR_NO_NWFILTER_BINDING: No nwfilter binding.</summary>
    NoNwFilterBinding = 101,

    /// <summary>VIR_ERR_INVALID_DOMAIN_CHECKPOINT: Invalid domain checkpoint.</summary>
    InvalidDomainCheckpoint = 102,

    /// <summary>VIR_ERR_NO_DOMAIN_CHECKPOINT: Domain checkpoint not found.</summary>
    NoDomainCheckpoint = 103,

    /// <summary>VIR_ERR_NO_DOMAIN_BACKUP: Domain backup job id not found.</summary>
    NoDomainBackup = 104,

    /// <summary>VIR_ERR_INVALID_NETWORK_PORT: Invalid network port object.</summary>
    InvalidNetworkPort = 105,

    /// <summary>VIR_ERR_NETWORK_PORT_EXIST: The network port already exist.</summary>
    NetworkPortExist = 106,

    /// <summary>VIR_ERR_NO_NETWORK_PORT: Network port not found.</summary>
    NoNetworkPort = 107,

    /// <summary>VIR_ERR_NO_HOSTNAME: No domain's hostname found.</summary>
    NoHostname = 108,

    /// <summary>VIR_ERR_CHECKPOINT_INCONSISTENT: Checkpoint can't be used.</summary>
    CheckpointInconsistent = 109,

    /// <summary>VIR_ERR_MULTIPLE_DOMAINS: More than one matching domain found.</summary>
    MultipleDomains = 110,
}
