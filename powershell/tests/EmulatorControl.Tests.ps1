# The test helpers' control-API client: real HTTPS validated against the emulator's own CA and host name.
Describe 'Emulator control API client (test helpers)' -Tag 'CI' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'common.ps1')
        $script:Emulator = Start-TestEmulator -Directory (Get-TestDirectory)
        $script:CountersUrl = "$($Emulator.ControlUrl)/counters"
        function Get-TlsFailure([System.Net.Http.HttpClient] $Client, [string] $HostHeader) {
            <# Sends GET counters; returns the innermost exception's message, or $null when the call succeeded. #>
            $request = [System.Net.Http.HttpRequestMessage]::new([System.Net.Http.HttpMethod]::Get, $CountersUrl)
            if ($HostHeader) { $request.Headers.Host = $HostHeader }
            try {
                $Client.SendAsync($request).GetAwaiter().GetResult().Dispose()
                $null
            }
            catch {
                $e = $_.Exception
                while ($e.InnerException) { $e = $e.InnerException }
                $e.Message
            }
            finally { $request.Dispose() }
        }
    }
    AfterAll {
        Stop-TestEmulator $script:Emulator
    }

    It 'trusts the emulator CA for the control URL' {
        Get-TlsFailure $Emulator.ControlClient | Should -BeNullOrEmpty
        (Get-EmulatorCounters).requests | Should -Be 0
    }

    It 'rejects a server certificate that does not chain to the given CA' {
        $other = New-TestCertificate -Subject 'CN=not the emulator CA'
        $client = New-EmulatorHttpClient -CaPem $other.ExportCertificatePem()
        try {
            Get-TlsFailure $client | Should -Match 'errors in the certificate chain'
        }
        finally { $client.Dispose(); $other.Dispose() }
    }

    It 'rejects the emulator certificate for a host name it was not issued for' {
        Get-TlsFailure $Emulator.ControlClient -HostHeader 'not-the-emulator.example' | Should -Match 'RemoteCertificateNameMismatch'
    }
}
