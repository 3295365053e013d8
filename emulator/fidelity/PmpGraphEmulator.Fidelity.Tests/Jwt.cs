using System.Text;
using System.Text.Json;

namespace PmpGraphEmulator.Fidelity.Tests;

/// <summary>Reads the header and payload of a compact JWS without trusting it.</summary>
internal static class Jwt
{
    public static JsonElement Header(string token) => Part(token, 0);

    public static JsonElement Payload(string token) => Part(token, 1);

    private static JsonElement Part(string token, int index)
    {
        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            throw new FormatException($"not a compact JWS: {parts.Length} parts");
        }

        using var doc = JsonDocument.Parse(Encoding.UTF8.GetString(Base64UrlDecode(parts[index])));
        return doc.RootElement.Clone();
    }

    public static byte[] Base64UrlDecode(string s)
    {
        var b = s.Replace('-', '+').Replace('_', '/');
        b += (b.Length % 4) switch
        {
            2 => "==",
            3 => "=",
            0 => string.Empty,
            _ => throw new FormatException("bad base64url length"),
        };
        return Convert.FromBase64String(b);
    }

    public static string[] StringArray(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array
            ? v.EnumerateArray().Select(e => e.GetString() ?? string.Empty).ToArray()
            : [];

    public static string? String(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
