# The process-wide token cache seen from a script: cmdlets that each create and free their own native
# client (credentials on every call) share one token. This file starts its own emulator, so no token
# cached by another test file (another emulator, another token endpoint) can be served here.
Describe 'Token cache shared by the process' -Tag 'CI' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'common.ps1')
        $script:Emulator = Start-TestEmulator -Directory (Get-TestDirectory)
    }
    AfterAll {
        Stop-TestEmulator $script:Emulator
    }

    It 'a foreach of Send-PmpMail -TenantId -ClientId -ClientSecret makes one token request' {
        Invoke-Emulator 'reset' -Method POST | Out-Null
        $recipients = 1..5 | ForEach-Object { "user$_@contoso.com" }
        foreach ($to in $recipients) {
            $sp = Get-SecretParameters
            Send-PmpMail @sp -To $to -Subject "patch report for $to" -From $Mailbox
        }
        $counters = Get-EmulatorCounters
        $counters.tokenRequests | Should -Be 1 -Because 'each call frees its client, but the token stays in the process'
        $counters.messagesAccepted | Should -Be 5
        $messages = Get-EmulatorMessages
        $messages.Count | Should -Be 5
        ($messages | ForEach-Object { $_.to[0].address } | Sort-Object) | Should -Be ($recipients | Sort-Object)
    }

    It 'a wrong secret still fails with AADSTS7000215 while the right secret''s token is cached' {
        Invoke-Emulator 'reset' -Method POST | Out-Null
        $sp = Get-SecretParameters
        Send-PmpMail @sp -To 'ops@contoso.com' -Subject 'right' -From $Mailbox
        $bad = Get-SecretParameters -Secret 'not-the-secret'
        { Send-PmpMail @bad -To 'ops@contoso.com' -Subject 'wrong' -From $Mailbox } |
            Should -Throw -ErrorId 'PmpMail.AuthenticationFailed.AADSTS7000215,PmpMail.Commands.SendPmpMailCommand'
        (Get-EmulatorMessages | Where-Object subject -EQ 'wrong') | Should -BeNullOrEmpty
    }
}
