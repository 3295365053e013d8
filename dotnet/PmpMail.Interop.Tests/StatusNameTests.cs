using Xunit;

namespace PmpMail.Interop.Tests;

/// <summary>
/// The status names an exception carries when the native library cannot be loaded (Exceptions.cs) must be the
/// C header's names (pmp_status_name), number for number, PMP_STATUS_UNKNOWN for numbers it does not know.
/// </summary>
public sealed class StatusNameTests
{
    public static TheoryData<uint> Numbers()
    {
        var data = new TheoryData<uint>();
        foreach (PmpStatus status in Enum.GetValues<PmpStatus>())
        {
            data.Add((uint)status);
        }

        // The first number past the last status, whatever it is: unknown to both.
        data.Add(Enum.GetValues<PmpStatus>().Max(s => (uint)s) + 1);
        data.Add(99);
        data.Add(uint.MaxValue);
        return data;
    }

    [Theory]
    [MemberData(nameof(Numbers))]
    public void TheManagedFallbackNamesEveryStatusAsTheNativeLibraryDoes(uint number) =>
        Assert.Equal(PmpMailClient.StatusName((PmpStatus)number), PmpMailException.FallbackStatusName((PmpStatus)number));

    [Fact]
    public void NullParameterIsSpelledAsInTheHeader() =>
        Assert.Equal("PMP_STATUS_NULL_PARAMETER", PmpMailException.FallbackStatusName(PmpStatus.NullParameter));
}
