//! MinIO's admin action names (github.com/minio/pkg `policy/admin-action.go` at
//! v3.4.0, plus `admin:ForceUnlock` and `admin:GenerateBatchJob`, which that release
//! defined but forgot to list). Statements granting admin actions ignore `Resource`.

/// Every admin action: `admin:*` in a policy.
pub const ALL_ADMIN: &str = "admin:*";

pub const ADD_USER_TO_GROUP: &str = "admin:AddUserToGroup";
pub const ATTACH_USER_OR_GROUP_POLICY: &str = "admin:AttachUserOrGroupPolicy";
pub const BANDWIDTH_MONITOR: &str = "admin:BandwidthMonitor";
pub const CANCEL_BATCH_JOB: &str = "admin:CancelBatchJob";
pub const CLUSTER_INFO: &str = "admin:ClusterInfo";
pub const CONFIG_UPDATE: &str = "admin:ConfigUpdate";
pub const CONSOLE_LOG: &str = "admin:ConsoleLog";
pub const CREATE_POLICY: &str = "admin:CreatePolicy";
pub const CREATE_SERVICE_ACCOUNT: &str = "admin:CreateServiceAccount";
pub const CREATE_USER: &str = "admin:CreateUser";
pub const DATA_USAGE_INFO: &str = "admin:DataUsageInfo";
pub const DECOMMISSION: &str = "admin:Decommission";
pub const DELETE_POLICY: &str = "admin:DeletePolicy";
pub const DELETE_USER: &str = "admin:DeleteUser";
pub const DESCRIBE_BATCH_JOB: &str = "admin:DescribeBatchJob";
pub const DISABLE_GROUP: &str = "admin:DisableGroup";
pub const DISABLE_USER: &str = "admin:DisableUser";
pub const DRIVE_INFO: &str = "admin:DriveInfo";
pub const DRIVE_LIST: &str = "admin:DriveList";
pub const ENABLE_GROUP: &str = "admin:EnableGroup";
pub const ENABLE_USER: &str = "admin:EnableUser";
pub const EXPORT_BUCKET_METADATA: &str = "admin:ExportBucketMetadata";
pub const EXPORT_IAM: &str = "admin:ExportIAM";
pub const FORCE_UNLOCK: &str = "admin:ForceUnlock";
pub const GENERATE_BATCH_JOB: &str = "admin:GenerateBatchJob";
pub const GET_BUCKET_QUOTA: &str = "admin:GetBucketQuota";
pub const GET_BUCKET_TARGET: &str = "admin:GetBucketTarget";
pub const GET_GROUP: &str = "admin:GetGroup";
pub const GET_POLICY: &str = "admin:GetPolicy";
pub const GET_USER: &str = "admin:GetUser";
pub const HEAL: &str = "admin:Heal";
pub const IMPORT_BUCKET_METADATA: &str = "admin:ImportBucketMetadata";
pub const IMPORT_IAM: &str = "admin:ImportIAM";
pub const INSPECT_DATA: &str = "admin:InspectData";
pub const INVENTORY_CONTROL: &str = "admin:InventoryControl";
pub const KMS_CREATE_KEY: &str = "admin:KMSCreateKey";
pub const KMS_KEY_STATUS: &str = "admin:KMSKeyStatus";
pub const LICENSE_INFO: &str = "admin:LicenseInfo";
pub const LIST_BATCH_JOBS: &str = "admin:ListBatchJobs";
pub const LIST_GROUPS: &str = "admin:ListGroups";
pub const LIST_SERVICE_ACCOUNTS: &str = "admin:ListServiceAccounts";
pub const LIST_TEMPORARY_ACCOUNTS: &str = "admin:ListTemporaryAccounts";
pub const LIST_TIER: &str = "admin:ListTier";
pub const LIST_USER_POLICIES: &str = "admin:ListUserPolicies";
pub const LIST_USERS: &str = "admin:ListUsers";
pub const NODE_INFO: &str = "admin:NodeInfo";
pub const NODE_LIST: &str = "admin:NodeList";
pub const OBD_INFO: &str = "admin:OBDInfo";
pub const POOL_INFO: &str = "admin:PoolInfo";
pub const POOL_LIST: &str = "admin:PoolList";
pub const PROFILING: &str = "admin:Profiling";
pub const PROMETHEUS: &str = "admin:Prometheus";
pub const REBALANCE: &str = "admin:Rebalance";
pub const REMOVE_SERVICE_ACCOUNT: &str = "admin:RemoveServiceAccount";
pub const REMOVE_USER_FROM_GROUP: &str = "admin:RemoveUserFromGroup";
pub const REPLICATION_DIFF: &str = "admin:ReplicationDiff";
pub const SERVER_INFO: &str = "admin:ServerInfo";
pub const SERVER_TRACE: &str = "admin:ServerTrace";
pub const SERVER_UPDATE: &str = "admin:ServerUpdate";
pub const SERVICE_CORDON: &str = "admin:ServiceCordon";
pub const SERVICE_FREEZE: &str = "admin:ServiceFreeze";
pub const SERVICE_RESTART: &str = "admin:ServiceRestart";
pub const SERVICE_STOP: &str = "admin:ServiceStop";
pub const SET_BUCKET_QUOTA: &str = "admin:SetBucketQuota";
pub const SET_BUCKET_TARGET: &str = "admin:SetBucketTarget";
pub const SET_INFO: &str = "admin:SetInfo";
pub const SET_TIER: &str = "admin:SetTier";
pub const SITE_REPLICATION_ADD: &str = "admin:SiteReplicationAdd";
pub const SITE_REPLICATION_DISABLE: &str = "admin:SiteReplicationDisable";
pub const SITE_REPLICATION_INFO: &str = "admin:SiteReplicationInfo";
pub const SITE_REPLICATION_OPERATION: &str = "admin:SiteReplicationOperation";
pub const SITE_REPLICATION_REMOVE: &str = "admin:SiteReplicationRemove";
pub const SITE_REPLICATION_RESYNC: &str = "admin:SiteReplicationResync";
pub const START_BATCH_JOB: &str = "admin:StartBatchJob";
pub const STORAGE_INFO: &str = "admin:StorageInfo";
pub const TOP_LOCKS_INFO: &str = "admin:TopLocksInfo";
pub const UPDATE_POLICY_ASSOCIATION: &str = "admin:UpdatePolicyAssociation";
pub const UPDATE_SERVICE_ACCOUNT: &str = "admin:UpdateServiceAccount";

/// Every admin action name MinIO knows, sorted without regard to case.
pub const ADMIN_ACTIONS: &[&str] = &[
    ADD_USER_TO_GROUP,
    ATTACH_USER_OR_GROUP_POLICY,
    BANDWIDTH_MONITOR,
    CANCEL_BATCH_JOB,
    CLUSTER_INFO,
    CONFIG_UPDATE,
    CONSOLE_LOG,
    CREATE_POLICY,
    CREATE_SERVICE_ACCOUNT,
    CREATE_USER,
    DATA_USAGE_INFO,
    DECOMMISSION,
    DELETE_POLICY,
    DELETE_USER,
    DESCRIBE_BATCH_JOB,
    DISABLE_GROUP,
    DISABLE_USER,
    DRIVE_INFO,
    DRIVE_LIST,
    ENABLE_GROUP,
    ENABLE_USER,
    EXPORT_BUCKET_METADATA,
    EXPORT_IAM,
    FORCE_UNLOCK,
    GENERATE_BATCH_JOB,
    GET_BUCKET_QUOTA,
    GET_BUCKET_TARGET,
    GET_GROUP,
    GET_POLICY,
    GET_USER,
    HEAL,
    IMPORT_BUCKET_METADATA,
    IMPORT_IAM,
    INSPECT_DATA,
    INVENTORY_CONTROL,
    KMS_CREATE_KEY,
    KMS_KEY_STATUS,
    LICENSE_INFO,
    LIST_BATCH_JOBS,
    LIST_GROUPS,
    LIST_SERVICE_ACCOUNTS,
    LIST_TEMPORARY_ACCOUNTS,
    LIST_TIER,
    LIST_USER_POLICIES,
    LIST_USERS,
    NODE_INFO,
    NODE_LIST,
    OBD_INFO,
    POOL_INFO,
    POOL_LIST,
    PROFILING,
    PROMETHEUS,
    REBALANCE,
    REMOVE_SERVICE_ACCOUNT,
    REMOVE_USER_FROM_GROUP,
    REPLICATION_DIFF,
    SERVER_INFO,
    SERVER_TRACE,
    SERVER_UPDATE,
    SERVICE_CORDON,
    SERVICE_FREEZE,
    SERVICE_RESTART,
    SERVICE_STOP,
    SET_BUCKET_QUOTA,
    SET_BUCKET_TARGET,
    SET_INFO,
    SET_TIER,
    SITE_REPLICATION_ADD,
    SITE_REPLICATION_DISABLE,
    SITE_REPLICATION_INFO,
    SITE_REPLICATION_OPERATION,
    SITE_REPLICATION_REMOVE,
    SITE_REPLICATION_RESYNC,
    START_BATCH_JOB,
    STORAGE_INFO,
    TOP_LOCKS_INFO,
    UPDATE_POLICY_ASSOCIATION,
    UPDATE_SERVICE_ACCOUNT,
];
