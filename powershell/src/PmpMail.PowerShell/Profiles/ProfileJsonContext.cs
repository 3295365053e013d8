using System.Text.Json.Serialization;

namespace PmpMail;

/// <summary>Source-generated JSON (no reflection) for profile files: camelCase, indented, nulls left out.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(PmpMailProfile))]
internal sealed partial class ProfileJsonContext : JsonSerializerContext
{
}
