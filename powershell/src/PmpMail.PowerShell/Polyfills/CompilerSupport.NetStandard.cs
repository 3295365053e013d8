namespace System.Runtime.CompilerServices;

// Compiler support types that .NET 5+/7+ define and netstandard2.0 lacks: init accessors and required members.

/// <summary>Marks init-only setters (C# 9).</summary>
internal static class IsExternalInit
{
}

/// <summary>Marks a type with required members (C# 11).</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Field | AttributeTargets.Property, AllowMultiple = false, Inherited = false)]
internal sealed class RequiredMemberAttribute : Attribute
{
}

/// <summary>Names a compiler feature a member needs (C# 11 required members).</summary>
[AttributeUsage(AttributeTargets.All, AllowMultiple = true, Inherited = false)]
internal sealed class CompilerFeatureRequiredAttribute : Attribute
{
    public CompilerFeatureRequiredAttribute(string featureName) => FeatureName = featureName;

    public string FeatureName { get; }

    public bool IsOptional { get; init; }
}
