# Connection reuse: Connect-PmpMail / Disconnect-PmpMail, New-PmpMailConnection with -Connection.
Describe 'Connect-PmpMail and New-PmpMailConnection' -Tag 'CI' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'common.ps1')
        $script:Emulator = Start-TestEmulator -Directory (Get-TestDirectory)
        $script:sp = Get-SecretParameters
    }
    AfterAll {
        Disconnect-PmpMail
        Stop-TestEmulator $script:Emulator
    }
    BeforeEach {
        Invoke-Emulator 'reset' -Method POST | Out-Null
    }

    It 'connects once; later sends without credentials reuse the cached token' {
        Connect-PmpMail @sp
        (Get-EmulatorCounters).tokenRequests | Should -Be 1 -Because 'Connect-PmpMail validates the credentials'
        Send-PmpMail -To 'ops@contoso.com' -Subject 'first' -From $Mailbox
        Send-PmpMail -To 'ops@contoso.com' -Subject 'second' -From $Mailbox
        Test-PmpMailPermission -Quiet | Should -BeTrue
        $counters = Get-EmulatorCounters
        $counters.tokenRequests | Should -Be 1
        $counters.messagesAccepted | Should -Be 2
    }

    It 'fails to connect with the AADSTS id and keeps no connection' {
        Disconnect-PmpMail
        $bad = Get-SecretParameters -Secret 'nope'
        { Connect-PmpMail @bad } | Should -Throw -ErrorId 'PmpMail.AuthenticationFailed.AADSTS7000215,PmpMail.Commands.ConnectPmpMailCommand'
        { Send-PmpMail -To 'ops@contoso.com' -Subject 'x' -From $Mailbox } | Should -Throw -ErrorId 'PmpMail.NoConnection,PmpMail.Commands.SendPmpMailCommand'
    }

    It 'Disconnect-PmpMail forgets the session connection' {
        Connect-PmpMail @sp
        Disconnect-PmpMail
        { Test-PmpMailPermission } | Should -Throw -ErrorId 'PmpMail.NoConnection,PmpMail.Commands.TestPmpMailPermissionCommand'
    }

    It 'New-PmpMailConnection gives independent connections for -Connection (one token per app, shared by the process)' {
        # The full app's token is in the process already (Test-PmpMailPermission's client is freed, its
        # token stays): $a uses it; $b, another app, gets its own.
        Test-PmpMailPermission @sp -Quiet | Should -BeTrue
        Invoke-Emulator 'reset' -Method POST | Out-Null
        $a = New-PmpMailConnection @sp
        $sendOnly = Get-SecretParameters -ClientId $AppSendOnly
        $b = New-PmpMailConnection @sendOnly
        try {
            $a.ClientId | Should -Be $AppFull
            $a.PSObject.TypeNames | Should -Contain 'PmpMail.PmpMailConnection'
            1..3 | ForEach-Object { Send-PmpMail -Connection $a -To 'ops@contoso.com' -Subject "a$_" -From $Mailbox }
            Send-PmpMail -Connection $b -To 'ops@contoso.com' -Subject 'b1' -From $Mailbox
            $counters = Get-EmulatorCounters
            $counters.tokenRequests | Should -Be 1 -Because "only the send-only app had no token in this process yet"
            $messages = Get-EmulatorMessages
            ($messages | Where-Object subject -EQ 'b1').appId | Should -Be $AppSendOnly
            ($messages | Where-Object subject -EQ 'a1').appId | Should -Be $AppFull
        }
        finally {
            $a.Dispose(); $b.Dispose()
        }
        $a.IsOpen | Should -BeFalse
        { Send-PmpMail -Connection $a -To 'x@contoso.com' -From $Mailbox } | Should -Throw -ErrorId 'PmpMail.ConnectionClosed,PmpMail.Commands.SendPmpMailCommand'
    }

    It 'refuses endpoint overrides together with an existing connection' {
        $a = New-PmpMailConnection @sp
        try {
            { Send-PmpMail -Connection $a -To 'x@contoso.com' -From $Mailbox -GraphRoot 'https://127.0.0.1:1' } |
                Should -Throw -ErrorId 'PmpMail.EndpointOverrideIgnored,PmpMail.Commands.SendPmpMailCommand'
        }
        finally { $a.Dispose() }
    }
}
