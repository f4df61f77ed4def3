namespace Quantixkvm.Domain.Networks;

/// <summary>Facts about one security group, in its own stream.</summary>
public abstract record SecurityGroupEvent(Guid GroupId);

public sealed record SecurityGroupCreated(Guid GroupId, string Name, string Description, DateTimeOffset CreatedAt) : SecurityGroupEvent(GroupId);

public sealed record SecurityGroupRuleAdded(Guid GroupId, SecurityGroupRule Rule, DateTimeOffset AddedAt) : SecurityGroupEvent(GroupId);

public sealed record SecurityGroupRuleRemoved(Guid GroupId, Guid RuleId, DateTimeOffset RemovedAt) : SecurityGroupEvent(GroupId);

public sealed record SecurityGroupDeleted(Guid GroupId, DateTimeOffset DeletedAt) : SecurityGroupEvent(GroupId);
